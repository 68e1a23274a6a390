// Tests of the command-line contract (tools/cli/flags.h, Abseil's:
// positionals anywhere, "--" ends the flags) and of every documented form of
// every subcommand (README.md, the usage texts, tools/demo.sh), each run
// through the command's own Run function: collections, ingest and search
// against a data directory and against a `tqdb serve` running in this
// process, bench, bench --report and distortion on tiny files.
#include "tools/cli/flags.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/tools_test_util.h"
#include "tools/bench/commands.h"
#include "tools/bench/report.h"
#include "tools/cli/commands.h"

namespace tqdb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing_util::Outcome;
using testing_util::RunCommand;
using testing_util::RunFn;
using testing_util::TempDir;

// ---------------------------------------------------------------------------
// The contract.

const FlagSpec kSpec = {{"x", "y"}, {"flag"}, /*positionals=*/true};

TEST(FlagsTest, PositionalsMayStandAnywhere) {
  auto f = Flags::Parse({"a", "--x", "1", "b", "--flag", "c", "--y=2"}, kSpec);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->positionals(), ElementsAre("a", "b", "c"));
  EXPECT_EQ(f->GetString("x"), "1");
  EXPECT_EQ(f->GetString("y"), "2");
  EXPECT_TRUE(f->Has("flag"));
}

TEST(FlagsTest, DoubleDashEndsTheFlags) {
  auto f = Flags::Parse({"--x", "1", "--", "--y", "-h", "--"}, kSpec);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_THAT(f->positionals(), ElementsAre("--y", "-h", "--"));
  EXPECT_EQ(f->GetString("x"), "1");
  EXPECT_FALSE(f->Has("y"));
}

TEST(FlagsTest, AValueIsTheNextArgumentWhateverItLooksLike) {
  auto f = Flags::Parse({"--x", "-1,2", "--y", "--"}, kSpec);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->GetString("x"), "-1,2");
  EXPECT_EQ(f->GetString("y"), "--");
  EXPECT_THAT(f->positionals(), IsEmpty());
  f = Flags::Parse({"--x="}, kSpec);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->Has("x"));
  EXPECT_EQ(f->GetString("x", "default"), "");
}

TEST(FlagsTest, BooleansAndRepeats) {
  auto f = Flags::Parse({"--flag=true", "--x", "1", "--x", "2"}, kSpec);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->Has("flag"));
  EXPECT_EQ(f->GetString("x"), "2");  // the last one
  f = Flags::Parse({"--flag", "--flag=false"}, kSpec);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->Has("flag"));
}

TEST(FlagsTest, Errors) {
  auto message = [](const std::vector<std::string>& args,
                    const FlagSpec& spec) {
    auto f = Flags::Parse(args, spec);
    EXPECT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(f.status().message());
  };
  EXPECT_EQ(message({"--nope", "1"}, kSpec), "unknown flag --nope");
  EXPECT_EQ(message({"a", "--x"}, kSpec), "--x needs a value");
  EXPECT_EQ(message({"--flag=yes"}, kSpec),
            "--flag takes no value (or =true/=false)");
  const FlagSpec no_positionals = {{"x"}, {}};
  EXPECT_EQ(message({"--x", "1", "stray"}, no_positionals),
            "unexpected argument 'stray'");
  EXPECT_EQ(message({"--", "--x"}, no_positionals),
            "unexpected argument '--x'");
}

TEST(FlagsTest, FloatListsHoldTheirRange) {
  const FlagSpec spec = {{"s"}, {}};
  auto f = Flags::Parse({"--s", "0,2.5,4"}, spec);
  ASSERT_TRUE(f.ok()) << f.status();
  auto v = f->GetFloatList("s", "0", 0.0f, 4.0f);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, (std::vector<float>{0.0f, 2.5f, 4.0f}));
  auto d = f->GetFloatList("absent", "1.5", 0.0f, 4.0f);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, std::vector<float>{1.5f});
  for (const char* bad : {"1,5", "1,-0.5", "nan", "1,x"}) {
    auto g = Flags::Parse({"--s", bad}, spec);
    ASSERT_TRUE(g.ok());
    const auto r = g->GetFloatList("s", "0", 0.0f, 4.0f);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto g = Flags::Parse({"--s", "0,7"}, spec);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->GetFloatList("s", "0", 0.0f, 4.0f).status().message(),
            "--s: '7' is not a number in [0, 4]");
}

TEST(FlagsTest, IdListsTakeEveryUint64) {
  const FlagSpec spec = {{"like"}, {}};
  auto f = Flags::Parse({"--like", "7, 18446744073709551615,0"}, spec);
  ASSERT_TRUE(f.ok()) << f.status();
  auto ids = f->GetIdList("like");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<uint64_t>{7, UINT64_MAX, 0}));
  for (const char* bad : {"1,-2", "1,,2", "x", "18446744073709551616"}) {
    auto g = Flags::Parse({"--like", bad}, spec);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->GetIdList("like").status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  auto g = Flags::Parse({"--like", "3,4,-5"}, spec);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->GetIdList("like").status().message(),
            "--like: value 3 ('-5') is not a point id");
}

TEST(FlagsTest, HelpBeforeTheEndOfFlags) {
  EXPECT_TRUE(WantsHelp({"--help"}));
  EXPECT_TRUE(WantsHelp({"list", "-h"}));
  EXPECT_FALSE(WantsHelp({"--", "--help"}));
  EXPECT_FALSE(WantsHelp({"--x", "1"}));
}

TEST(FlagsTest, SpecsCombine) {
  const FlagSpec all = FlagSpec{{"a"}, {"b"}}.And({{"c"}, {"d"}, true});
  EXPECT_EQ(all.values, (std::set<std::string>{"a", "c"}));
  EXPECT_EQ(all.bools, (std::set<std::string>{"b", "d"}));
  EXPECT_TRUE(all.positionals);
}

// ---------------------------------------------------------------------------
// Every documented form parses with its command's flags.

struct Form {
  const char* command;
  const FlagSpec& spec;
  std::vector<std::string> args;
  std::vector<std::string> positionals;
};

TEST(DocumentedFormsTest, ParseWithTheirCommandsFlags) {
  const std::vector<Form> forms = {
      // README: collections --server 127.0.0.1:7700 [list | info docs |
      // train docs | drop docs] [--json]; --data DIR instead of --server.
      {"collections", CollectionsFlags(), {"--server", "A"}, {}},
      {"collections", CollectionsFlags(), {"--server", "A", "list"}, {"list"}},
      {"collections", CollectionsFlags(), {"list", "--server", "A"}, {"list"}},
      {"collections", CollectionsFlags(), {"--data", "D", "list"}, {"list"}},
      {"collections",
       CollectionsFlags(),
       {"--data", "D", "info", "docs", "--json"},
       {"info", "docs"}},
      {"collections",
       CollectionsFlags(),
       {"info", "docs", "--server", "A", "--json"},
       {"info", "docs"}},
      {"collections",
       CollectionsFlags(),
       {"--server", "A", "train", "docs", "--retrain"},
       {"train", "docs"}},
      {"collections",
       CollectionsFlags(),
       {"--data", "D", "drop", "docs"},
       {"drop", "docs"}},
      {"collections",
       CollectionsFlags(),
       {"create", "docs", "--data", "D", "--dim", "3", "--metric", "l2",
        "--method", "mse", "--bits", "3", "--nlist", "4", "--seed", "7",
        "--no-store-vectors", "--json"},
       {"create", "docs"}},
      {"collections",
       CollectionsFlags(),
       {"--data", "D", "--", "info", "docs"},
       {"info", "docs"}},
      // README: ingest --server 127.0.0.1:7700 --collection docs --input
      // embeddings.npy --create --metric cosine --bits 4 [--payload
      // meta.jsonl] [--ids ids.txt]; the usage text's other flags.
      {"ingest",
       IngestFlags(),
       {"--server", "A", "--collection", "docs", "--input", "e.npy", "--create",
        "--metric", "cosine", "--bits", "4", "--payload", "meta.jsonl", "--ids",
        "ids.txt"},
       {}},
      {"ingest",
       IngestFlags(),
       {"--collection",
        "docs",
        "--input",
        "x.h5",
        "--data",
        "D",
        "--format",
        "hdf5",
        "--hdf5-dataset",
        "test",
        "--create",
        "--dim",
        "3",
        "--method",
        "pq",
        "--nlist",
        "8",
        "--seed",
        "1",
        "--no-store-vectors",
        "--batch",
        "100",
        "--skip",
        "700",
        "--limit",
        "10",
        "--wait",
        "--train",
        "--progress",
        "none"},
       {}},
      // README: search --server 127.0.0.1:7700 --collection docs
      // --query-file q.npy --row 0 --k 10; the usage text's other flags.
      {"search",
       SearchFlags(),
       {"--server", "A", "--collection", "docs", "--query-file", "q.npy",
        "--row", "0", "--k", "10"},
       {}},
      {"search",
       SearchFlags(),
       {"--server", "A", "--collection", "docs", "--vector", "1,2", "--k", "5",
        "--offset", "5"},
       {}},
      {"search",
       SearchFlags(),
       {"--collection", "docs", "--vector", "-0.1,0.2,0.3", "--data", "D",
        "--nprobe", "16", "--exact", "--rescore", "--oversampling", "4",
        "--with-payload", "--json", "--format", "fvecs", "--api-key-file",
        "key"},
       {}},
      {"collections",
       CollectionsFlags(),
       {"--server", "A", "alias", "docs", "docs_v2"},
       {"alias", "docs", "docs_v2"}},
      // README: snapshots --server ADDR [list | create [COLLECTION] |
      // delete NAME]; snapshots restore SNAPSHOT (--server ADDR | --data
      // DIR) [--collection NAME [--as NEW_NAME]].
      {"snapshots", SnapshotsFlags(), {"--server", "A"}, {}},
      {"snapshots",
       SnapshotsFlags(),
       {"--server", "A", "create", "docs", "--json"},
       {"create", "docs"}},
      {"snapshots",
       SnapshotsFlags(),
       {"--server", "A", "delete", "docs-20261206T092016Z"},
       {"delete", "docs-20261206T092016Z"}},
      {"snapshots",
       SnapshotsFlags(),
       {"restore", "S", "--data", "D", "--collection", "docs", "--as", "d2",
        "--batch", "500"},
       {"restore", "S"}},
      // README, "Filtered search": search --filter, collections index /
      // count / drop-index, scroll.
      {"search",
       SearchFlags(),
       {"--server", "A", "--collection", "docs", "--vector", "1,2", "--filter",
        "{\"must\": []}"},
       {}},
      {"collections",
       CollectionsFlags(),
       {"--server", "A", "index", "docs", "lang", "keyword"},
       {"index", "docs", "lang", "keyword"}},
      {"collections",
       CollectionsFlags(),
       {"count", "docs", "--data", "D", "--filter", "@f.json", "--json"},
       {"count", "docs"}},
      {"collections",
       CollectionsFlags(),
       {"--data", "D", "drop-index", "docs", "lang"},
       {"drop-index", "docs", "lang"}},
      {"scroll",
       ScrollFlags(),
       {"--server", "A", "--collection", "docs", "--filter", "{}", "--limit",
        "100", "--offset", "7", "--all", "--with-vectors", "--no-payload",
        "--json"},
       {}},
      // README: serve --data DIR [--listen 127.0.0.1:7700] [--api-key-file
      // F] [--tls-cert C --tls-key K] [--max-receive-mb 64] [--max-batch
      // 10000]; the usage text's other flags.
      {"serve",
       ServeFlags(),
       {"--data", "D", "--listen", "127.0.0.1:7700", "--api-key-file", "F",
        "--tls-cert", "C", "--tls-key", "K", "--max-receive-mb", "64",
        "--max-batch", "10000"},
       {}},
      {"serve",
       ServeFlags(),
       {"--listen", "127.0.0.1:0", "--data", "D", "--port-file", "P",
        "--max-limit", "100", "--threads", "2", "--snapshot-dir", "S",
        "--grace", "5"},
       {}},
      // README: bench --base B.fvecs --queries Q.fvecs [--gt G.ivecs]
      // --metric cosine|ip|l2 --methods ... --bits 2,3,4 [--nlist N]
      // --nprobe 1,4,16,64 [--rescore 0,4] [--threads 1] [--json OUT.jsonl]
      // [--svg OUT.svg]; the usage text's --k, --max-queries, --label.
      {"bench",
       BenchFlags(),
       {"--base",        "B.fvecs",
        "--queries",     "Q.fvecs",
        "--gt",          "G.ivecs",
        "--metric",      "cosine",
        "--methods",     "mse,renorm,prod,pq,pq8,faiss",
        "--bits",        "2,3,4",
        "--nlist",       "10",
        "--nprobe",      "1,4,16,64",
        "--rescore",     "0,4",
        "--threads",     "1",
        "--batch",       "4",
        "--json",        "OUT.jsonl",
        "--svg",         "OUT.svg",
        "--k",           "10",
        "--max-queries", "5",
        "--label",       "L"},
       {}},
      // README: bench --report DIR [--data DIR] [--quick] [--max-base N]
      // [--max-queries N].
      {"bench --report",
       ReportFlags(),
       {"--report", "DIR", "--data", "D", "--quick", "--max-base", "300",
        "--max-queries", "10"},
       {}},
      // README: distortion --dim D --bits 1,2,3,4 [--input FILE.fvecs]
      // [--json]; the usage text's --methods, --n, --seed.
      {"distortion",
       DistortionFlags(),
       {"--dim", "8", "--bits", "1,2,3,4", "--input", "F.fvecs", "--json",
        "--methods", "mse,pq", "--n", "100", "--seed", "3"},
       {}},
  };
  for (const Form& form : forms) {
    SCOPED_TRACE(::testing::PrintToString(form.args));
    auto f = Flags::Parse(form.args, form.spec);
    ASSERT_TRUE(f.ok()) << form.command << ": " << f.status();
    EXPECT_EQ(f->positionals(), form.positionals) << form.command;
  }
}

// ---------------------------------------------------------------------------
// Every documented form runs.

// Expects exit 0; returns stdout.
std::string RunOk(RunFn run, const std::vector<std::string>& args) {
  const Outcome o = RunCommand(run, args);
  EXPECT_EQ(o.code, 0) << ::testing::PrintToString(args) << "\n" << o.err;
  return o.out;
}

class CommandFormsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 20 points of dimension 3 with ids and payloads, and the query file.
    std::ofstream jsonl(tmp_.File("x.jsonl")), ids(tmp_.File("ids.txt")),
        payload(tmp_.File("meta.jsonl"));
    for (int i = 0; i < 20; ++i) {
      jsonl << "{\"vector\": [" << i << ", " << (i % 3) << ", 1]}\n";
      ids << 1000 + i << "\n";
      payload << "{\"row\": " << i << "}\n";
    }
    std::ofstream q(tmp_.File("q.csv"));
    q << "7,7,1,1\n";
  }

  // The database forms of README.md and the usage texts, against `target`
  // (--server ADDR or --data DIR): `first` goes before the target, `rest`
  // after it.
  void RunDatabaseForms(const std::vector<std::string>& target) {
    auto cmd = [&](std::vector<std::string> first,
                   const std::vector<std::string>& rest) {
      first.insert(first.end(), target.begin(), target.end());
      first.insert(first.end(), rest.begin(), rest.end());
      return first;
    };
    RunOk(RunIngest,
          cmd({}, {"--collection", "docs", "--input", tmp_.File("x.jsonl"),
                   "--create", "--metric", "cosine", "--bits", "4", "--payload",
                   tmp_.File("meta.jsonl"), "--ids", tmp_.File("ids.txt"),
                   "--progress", "none"}));
    // The bug: the action after the flags was an "unexpected argument".
    EXPECT_THAT(RunOk(RunCollections, cmd({}, {"list"})), HasSubstr("docs"));
    EXPECT_THAT(RunOk(RunCollections, cmd({"list"}, {})), HasSubstr("docs"));
    EXPECT_THAT(RunOk(RunCollections, cmd({}, {})), HasSubstr("docs"));
    EXPECT_THAT(RunOk(RunCollections, cmd({}, {"--json"})),
                HasSubstr("\"name\":\"docs\""));
    EXPECT_THAT(RunOk(RunCollections, cmd({}, {"info", "docs", "--json"})),
                HasSubstr("\"count\":20"));
    EXPECT_THAT(RunOk(RunCollections, cmd({"info"}, {"docs"})),
                HasSubstr("docs"));
    EXPECT_THAT(RunOk(RunCollections, cmd({"info", "docs"}, {})),
                HasSubstr("docs"));
    EXPECT_THAT(RunOk(RunCollections, cmd({}, {"--", "info", "docs"})),
                HasSubstr("docs"));
    EXPECT_THAT(
        RunOk(RunSearch, cmd({}, {"--collection", "docs", "--query-file",
                                  tmp_.File("q.csv"), "--row", "0", "--k", "10",
                                  "--exact"})),
        HasSubstr("1007"));
    EXPECT_THAT(
        RunOk(RunSearch, cmd({"--collection", "docs", "--vector", "7,1,1"},
                             {"--k", "5", "--exact", "--json"})),
        HasSubstr("{\"row\":7}"));
    RunOk(RunCollections, cmd({}, {"train", "docs"}));
    RunOk(RunCollections, cmd({"train", "docs"}, {"--retrain"}));
    EXPECT_THAT(
        RunOk(RunCollections, cmd({"create", "made"},
                                  {"--dim", "3", "--metric", "l2", "--method",
                                   "mse", "--bits", "3", "--json"})),
        HasSubstr("\"method\":\"mse\""));
    RunOk(RunCollections, cmd({}, {"drop", "made"}));
    // Filtered search: an index, counts, a filtered search and a scroll.
    const std::string even =
        R"({"must": [{"key": "row", "range": {"lt": 10}}],
            "must_not": [{"key": "row", "match": {"any": [1, 3, 5, 7, 9]}}]})";
    EXPECT_THAT(RunOk(RunCollections,
                      cmd({"index", "docs", "row", "integer"}, {"--json"})),
                HasSubstr("\"points\":20"));
    EXPECT_EQ(RunOk(RunCollections, cmd({"count", "docs"}, {"--filter", even})),
              "5\n");
    EXPECT_THAT(
        RunOk(RunSearch,
              cmd({"--collection", "docs", "--vector", "7,1,1"},
                  {"--k", "10", "--nprobe", "0", "--json", "--filter", even})),
        AllOf(HasSubstr("{\"row\":8}"), Not(HasSubstr("{\"row\":7}")),
              HasSubstr("\"matches\":5")));
    EXPECT_THAT(RunOk(RunScroll, cmd({"--collection", "docs"},
                                     {"--filter", even, "--limit", "2"})),
                AllOf(HasSubstr("1000"), HasSubstr("1002"),
                      HasSubstr("next page: --offset 1004")));
    EXPECT_EQ(RunOk(RunScroll, cmd({"--collection", "docs"},
                                   {"--all", "--json", "--limit", "3"}))
                      .size() > 0,
              true);
    RunOk(RunCollections, cmd({"drop-index", "docs", "row"}, {}));
    // A name too many, or an unknown action, is still a usage error.
    EXPECT_EQ(RunCommand(RunCollections, cmd({"info", "docs"}, {"more"})).code,
              2);
    EXPECT_EQ(RunCommand(RunCollections, cmd({}, {"frobnicate"})).code, 2);
  }

  TempDir tmp_;
};

TEST_F(CommandFormsTest, DataDirectory) {
  RunDatabaseForms({"--data", tmp_.File("db")});
}

TEST_F(CommandFormsTest, ServerRunningInThisProcess) {
  const std::string port_file = tmp_.File("port");
  Outcome served;
  std::thread serve([&] {
    served = RunCommand(
        RunServe,
        {"--data", tmp_.File("srv"), "--listen", "127.0.0.1:0", "--port-file",
         port_file, "--max-receive-mb", "64", "--max-batch", "10000"});
  });
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!std::filesystem::exists(port_file) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(port_file)) << "serve did not start";
  std::string port;
  std::ifstream(port_file) >> port;
  RunDatabaseForms({"--server", "127.0.0.1:" + port});
  // RunServe waits for SIGTERM in its own thread (it blocks the signal
  // there): send it to that thread only.
  pthread_kill(serve.native_handle(), SIGTERM);
  serve.join();
  EXPECT_EQ(served.code, 0) << served.err;
  EXPECT_THAT(served.out, HasSubstr("stopped cleanly"));
}

void WriteFvecs(const std::string& path, size_t n, size_t d) {
  std::ofstream f(path, std::ios::binary);
  const int32_t dim = static_cast<int32_t>(d);
  for (size_t i = 0; i < n; ++i) {
    f.write(reinterpret_cast<const char*>(&dim), 4);
    for (size_t j = 0; j < d; ++j) {
      const float v = static_cast<float>((i * 7 + j * 3) % 11) - 5.0f;
      f.write(reinterpret_cast<const char*>(&v), 4);
    }
  }
}

TEST_F(CommandFormsTest, Benchmarks) {
  const std::string base = tmp_.File("b.fvecs"), queries = tmp_.File("q.fvecs");
  WriteFvecs(base, 300, 8);
  WriteFvecs(queries, 10, 8);
  EXPECT_THAT(
      RunOk(RunBench,
            {"--base", base, "--queries", queries, "--metric", "ip",
             "--methods", "renorm", "--bits", "2", "--nprobe", "all", "--json",
             tmp_.File("out.jsonl"), "--svg", tmp_.File("out.svg")}),
      HasSubstr("renorm"));
  // Any order, and --report's own flags (the data is missing: exit 2 after
  // the flags parsed).
  const Outcome report =
      RunCommand(RunBench, {"--quick", "--data", tmp_.File("none"), "--report",
                            tmp_.File("report"), "--max-base", "300"});
  EXPECT_EQ(report.code, 2);
  EXPECT_THAT(report.err, HasSubstr("shared data not found"));
  EXPECT_THAT(RunOk(RunDistortion, {"--bits", "2", "--dim", "8", "--methods",
                                    "mse", "--n", "50", "--json"}),
              HasSubstr("\"method\":\"mse\""));
  RunOk(RunDistortion, {"--input", base, "--bits", "2", "--methods", "mse"});
}

}  // namespace
}  // namespace tqdb
