// The CLI's edges that users met (issue 17), against a data directory and
// against an in-process server on a loopback port: payloads that are not
// JSON or not UTF-8, TLS, ingest --create into a different collection,
// batches over the server's limits, the serve flags (payload limit,
// exposure warning).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/db.h"
#include "db/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rocksdb/db.h"
#include "rpc/server.h"
#include "tests/tools/tools_test_util.h"
#include "tools/cli/commands.h"
#include "tools/cli/exposure.h"
#include "tools/cli/payload_text.h"

namespace tqdb {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing_util::Outcome;
using testing_util::RunCommand;
using testing_util::TempDir;

constexpr uint32_t kDim = 4;

std::vector<float> Vec(uint64_t id) {
  return {1.0f + id, 2.0f, 3.0f - id, 0.5f};
}

// A database in process, and optionally a server over it.
class Target {
 public:
  explicit Target(const std::string& dir, DatabaseOptions dbo = {},
                  ServerOptions so = {}, bool serve = false) {
    dbo.background_training = false;
    auto db = Database::Open(dir, dbo);
    EXPECT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    if (serve) {
      so.listen = "127.0.0.1:0";
      auto s = Server::Start(db_.get(), so);
      EXPECT_TRUE(s.ok()) << s.status();
      server_ = std::move(*s);
    }
  }
  ~Target() {
    if (server_) server_->Shutdown(absl::Seconds(5));
    server_.reset();
    db_->Close().IgnoreError();
  }
  Database* db() { return db_.get(); }
  std::string address() const { return server_->address(); }

 private:
  std::unique_ptr<Database> db_;
  std::unique_ptr<Server> server_;
};

// Writes payloads straight into the payload family of a closed data
// directory, as an older version (which took any bytes) or another writer
// could have: the API no longer accepts such payloads.
void WritePayloadsBehindTheApi(const std::string& dir, uint32_t cid,
                               const std::vector<Point>& pts) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  std::vector<std::string> names;
  ASSERT_TRUE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  for (const std::string& n : names) cfs.emplace_back(n, rocksdb::Options());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(
      rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != dbformat::kPayloadCf) continue;
    for (const Point& p : pts) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[i],
                          dbformat::PointKey(cid, p.id), p.payload)
                      .ok());
    }
  }
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  ASSERT_TRUE(db->Close().ok());
}

// Payloads that are not JSON, not UTF-8, or neither (stored by an older
// version, or written straight into RocksDB): tqdb search shows them
// instead of aborting (it died on nlohmann's type_error.316, exit 134).
TEST(CliEdges, PayloadsThatAreNotJsonOrNotUtf8AreRendered) {
  TempDir tmp;
  const std::string dir = tmp.File("db");
  const std::vector<Point> pts = {
      {0, Vec(0), "{\"title\": \"ok\"}"},                 // JSON
      {1, Vec(1), "plain words"},                         // text, not JSON
      {2, Vec(2), std::string("bad \xff\xfe end")},       // not UTF-8
      {3, Vec(3), std::string("{\"t\": \"\xc3\x28\"}")},  // JSON-ish, bad
      {4, Vec(4), std::string("line\nbreak\x01\x80")},
  };
  uint32_t cid = 0;
  {
    Target t(dir);
    CollectionConfig cfg;
    cfg.name = "docs";
    cfg.dim = kDim;
    cfg.metric = Metric::kL2;
    auto info = t.db()->CreateCollection(cfg);
    ASSERT_TRUE(info.ok()) << info.status();
    cid = info->collection_id;
    auto c = *t.db()->GetCollection("docs");
    std::vector<Point> valid = pts;
    for (Point& p : valid) p.payload = "{}";
    ASSERT_TRUE(c->Upsert(valid, true).ok());
  }
  WritePayloadsBehindTheApi(dir, cid, pts);
  for (bool json : {true, false}) {
    for (uint64_t id = 0; id < 5; ++id) {
      SCOPED_TRACE(::testing::Message()
                   << "id " << id << (json ? " json" : ""));
      const std::vector<float> v = Vec(id);
      std::vector<std::string> args = {
          "--data",       dir,
          "--collection", "docs",
          "--k",          "1",
          "--vector",     absl::StrCat(v[0], ",", v[1], ",", v[2], ",", v[3])};
      if (json) args.push_back("--json");
      const Outcome o = RunCommand(RunSearch, args);
      ASSERT_EQ(o.code, 0) << o.err;
      if (!json) {
        // One line per hit, valid UTF-8, no raw control characters.
        EXPECT_THAT(o.out, Not(HasSubstr("\xff")));
        EXPECT_THAT(o.out, Not(HasSubstr("\x01")));
        continue;
      }
      const auto parsed = nlohmann::json::parse(o.out, nullptr, false);
      ASSERT_FALSE(parsed.is_discarded()) << o.out;
      const auto& p = parsed["results"][0]["payload"];
      switch (id) {
        case 0:
          EXPECT_EQ(p, nlohmann::json({{"title", "ok"}}));
          break;
        case 1:
          EXPECT_EQ(p, "plain words");
          break;
        case 2:  // each invalid byte becomes U+FFFD
          EXPECT_EQ(p, "bad \xef\xbf\xbd\xef\xbf\xbd end");
          break;
        case 3:
          EXPECT_EQ(p, "{\"t\": \"\xef\xbf\xbd(\"}");
          break;
        case 4:
          EXPECT_EQ(p, "line\nbreak\x01\xef\xbf\xbd");
          break;
      }
    }
  }
}

TEST(PayloadText, ValidUtf8ReplacesEachInvalidByte) {
  EXPECT_EQ(ValidUtf8("plain"), "plain");
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");  // valid: kept
  EXPECT_EQ(ValidUtf8("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("a\xc3"), "a\xef\xbf\xbd");                // truncated
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"),  // a UTF-16 surrogate
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("\xf4\x90\x80\x80").size(), 12u);  // above U+10FFFF
  EXPECT_EQ(ValidUtf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // emoji
}

TEST(PayloadText, CellIsOneLineCutAtACharacter) {
  EXPECT_EQ(PayloadCell("a\nb\tc\x01", 60), "a\\nb\\tc\\x01");
  EXPECT_EQ(PayloadCell(std::string(10, 'x'), 10), std::string(10, 'x'));
  EXPECT_EQ(PayloadCell(std::string(11, 'x'), 10), "xxxxxxx...");
  // Multi-byte characters count as one and are never split.
  std::string e;
  for (int i = 0; i < 12; ++i) e += "\xc3\xa9";
  std::string want;
  for (int i = 0; i < 7; ++i) want += "\xc3\xa9";
  EXPECT_EQ(PayloadCell(e, 10), want + "...");
  EXPECT_EQ(PayloadCell("\xff", 10), "\xef\xbf\xbd");
}

TEST(PayloadText, DumpJsonNeverThrows) {
  nlohmann::json j = {{"name", std::string("bad \xff")}};
  EXPECT_EQ(DumpJson(j), "{\"name\":\"bad \xef\xbf\xbd\"}");
  EXPECT_EQ(PayloadJson(""), nullptr);
  EXPECT_EQ(PayloadJson("[1, 2]"), nlohmann::json({1, 2}));
}

// tqdb serve in this process, on a thread; Stop() sends SIGTERM to that
// thread only (RunServe blocks the signal there and waits for it).
class ServeThread {
 public:
  ServeThread(const TempDir& tmp, std::vector<std::string> args)
      : port_file_(tmp.File("port")) {
    args.insert(args.end(), {"--port-file", port_file_});
    thread_ = std::thread([this, args] {
      outcome_ = RunCommand(RunServe, args);
      finished_ = true;
    });
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (!std::filesystem::exists(port_file_) && !done() &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~ServeThread() { Stop(); }
  bool serving() const { return std::filesystem::exists(port_file_); }
  std::string address() const {
    std::string port;
    std::ifstream(port_file_) >> port;
    return "127.0.0.1:" + port;
  }
  const Outcome& Stop() {
    if (thread_.joinable()) {
      if (!done()) pthread_kill(thread_.native_handle(), SIGTERM);
      thread_.join();
    }
    return outcome_;
  }

 private:
  bool done() const { return finished_; }
  const std::string port_file_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
  Outcome outcome_;  // read after the thread is joined
};

// The payload limit (1 MiB) is a flag of tqdb serve, in its help, and the
// error names it.
TEST(CliEdges, ServePayloadLimitIsAFlag) {
  TempDir tmp;
  const Outcome help = RunCommand(RunServe, {"--help"});
  EXPECT_THAT(help.out, HasSubstr("--max-payload-bytes N"));
  ServeThread serve(tmp, {"--data", tmp.File("db"), "--listen", "127.0.0.1:0",
                          "--max-payload-bytes", "16"});
  ASSERT_TRUE(serve.serving());
  const std::string in = tmp.File("in.jsonl");
  std::ofstream(in) << "{\"id\": 1, \"vector\": [1, 2], \"payload\": "
                       "{\"k\": \"0123456789\"}}\n";
  const Outcome o =
      RunCommand(RunIngest, {"--server", serve.address(), "--collection", "c",
                             "--input", in, "--create", "--progress", "none"});
  EXPECT_EQ(o.code, 2) << o.out << o.err;
  EXPECT_THAT(o.err, HasSubstr("exceeds max_payload_bytes 16"));
  EXPECT_THAT(o.err, HasSubstr("--max-payload-bytes"));
  EXPECT_EQ(serve.Stop().code, 0);
}

// The cluster's flags are checked before anything opens, in a build with the
// cluster (an incomplete set) and without it (TQDB_CLUSTER=OFF, the
// sanitizer stages: any of them is refused, naming the build option).
TEST(CliEdges, ServeClusterFlagsAreCheckedBeforeTheDatabaseOpens) {
  TempDir tmp;
  const Outcome o = RunCommand(
      RunServe, {"--data", tmp.File("db"), "--cluster", "etcd=127.0.0.1:1"});
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_THAT(o.err, HasSubstr("--cluster"));
  EXPECT_FALSE(std::filesystem::exists(tmp.File("db")));
}

TEST(CliEdges, ExposureWarning) {
  for (const char* loopback :
       {"127.0.0.1:7700", "localhost:7700", "[::1]:7700", "127.0.0.5:1"}) {
    EXPECT_EQ(ExposureWarning("listen", loopback, false, false), "")
        << loopback;
  }
  for (const char* open :
       {"0.0.0.0:7700", "[::]:7700", "10.1.2.3:7700", "myhost:7700", ":7700"}) {
    SCOPED_TRACE(open);
    EXPECT_THAT(ExposureWarning("listen", open, false, false),
                AllOf(HasSubstr("warning"), HasSubstr("no API key"),
                      HasSubstr("no TLS")));
    EXPECT_THAT(ExposureWarning("listen", open, true, false),
                AllOf(HasSubstr("warning"), Not(HasSubstr("no API key")),
                      HasSubstr("in clear text")));
    EXPECT_THAT(ExposureWarning("listen", open, false, true),
                AllOf(HasSubstr("warning"), HasSubstr("no API key")));
    EXPECT_EQ(ExposureWarning("listen", open, true, true), "");
    EXPECT_THAT(ExposureWarning("http", open, false, false),
                HasSubstr(std::string("warning: --http ") + open));
  }
}

// tqdb serve --listen 0.0.0.0 with neither API key nor TLS warns (checked on
// a port that is taken, so that nothing of this test is ever reachable
// from another host: the warning comes before the bind fails).
TEST(CliEdges, ServeWarnsWhenExposedWithoutKeyOrTls) {
  TempDir tmp;
  Target holder(tmp.File("holder"), {}, {}, /*serve=*/true);
  const std::string port =
      holder.address().substr(holder.address().rfind(':') + 1);
  const Outcome o = RunCommand(
      RunServe, {"--data", tmp.File("db"), "--listen", "0.0.0.0:" + port});
  EXPECT_EQ(o.code, 1) << o.err;
  EXPECT_THAT(o.err, HasSubstr("warning: --listen 0.0.0.0:" + port));
  EXPECT_THAT(o.err, HasSubstr("address in use"));
  // The REST gateway serves the same API: the same warning for --http.
  const Outcome rest =
      RunCommand(RunServe, {"--data", tmp.File("db"), "--listen",
                            holder.address(), "--http", "0.0.0.0:" + port});
  EXPECT_EQ(rest.code, 1) << rest.err;
  EXPECT_THAT(rest.err, HasSubstr("warning: --http 0.0.0.0:" + port));
  EXPECT_THAT(rest.err, Not(HasSubstr("warning: --listen")));
  // Loopback: no warning.
  const Outcome quiet = RunCommand(
      RunServe, {"--data", tmp.File("db"), "--listen", holder.address()});
  EXPECT_EQ(quiet.code, 1);
  EXPECT_THAT(quiet.err, Not(HasSubstr("warning")));
}

// Rows of dimension d as JSON Lines with ids.
std::string Jsonl(int n, int d) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += "{\"id\": " + std::to_string(i) + ", \"vector\": [";
    for (int j = 0; j < d; ++j) s += (j ? ", " : "") + std::to_string(i + j);
    s += "]}\n";
  }
  return s;
}

// A batch over the server's --max-batch or over its receive limit: the
// error says which --batch fits, and the resume line uses it; ingesting
// with it works.
TEST(CliEdges, IngestSuggestsABatchThatFits) {
  TempDir tmp;
  const std::string in = tmp.File("in.jsonl");
  std::ofstream(in) << Jsonl(300, 64);
  auto ingest = [&](const Target& t, const std::string& batch) {
    return RunCommand(
        RunIngest, {"--server", t.address(), "--collection", "c", "--input", in,
                    "--create", "--progress", "none", "--batch", batch});
  };
  {
    DatabaseOptions dbo;
    dbo.max_batch = 50;  // tqdb serve --max-batch 50
    Target t(tmp.File("db1"), dbo, {}, /*serve=*/true);
    Outcome o = ingest(t, "100");
    EXPECT_EQ(o.code, 2) << o.err;
    EXPECT_THAT(o.err, HasSubstr("exceeds max_batch 50"));
    EXPECT_THAT(o.err, HasSubstr("use --batch 50 or less"));
    EXPECT_THAT(o.err, HasSubstr("--max-batch"));
    EXPECT_THAT(o.err, HasSubstr("resume with --skip 0 --batch 50"));
    o = ingest(t, "50");
    EXPECT_EQ(o.code, 0) << o.err;
  }
  ServerOptions so;
  so.max_receive_bytes = 32 << 10;  // --max-receive-mb, in KiB here
  Target t(tmp.File("db2"), {}, so, /*serve=*/true);
  Outcome o = ingest(t, "200");  // 200 points of 64 floats: over 32 KiB
  EXPECT_EQ(o.code, 2) << o.err;
  std::smatch m;
  const std::regex fits("use --batch ([0-9]+) or less");
  ASSERT_TRUE(std::regex_search(o.err, m, fits)) << o.err;
  const std::string suggested = m[1];
  EXPECT_LT(std::stoi(suggested), 200);
  EXPECT_GT(std::stoi(suggested), 50);
  EXPECT_THAT(o.err, HasSubstr("--max-receive-mb"));
  EXPECT_THAT(o.err, HasSubstr("--batch " + suggested + "\n"));
  o = ingest(t, suggested);
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("ingested 300 rows"));
}

// ingest --create into an existing collection whose settings differ from
// the flags: exit 2 naming each difference, nothing ingested (it used to
// ingest into the old settings silently). The same flags again: fine.
TEST(CliEdges, IngestCreateIntoADifferentCollectionFails) {
  TempDir tmp;
  const std::string in = tmp.File("in.jsonl");
  std::ofstream(in) << Jsonl(20, 8);
  auto ingest = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--data",   tmp.File("db"), "--collection",
                                     "docs",     "--input",      in,
                                     "--create", "--progress",   "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCommand(RunIngest, args);
  };
  Outcome o = ingest({"--metric", "ip", "--bits", "4"});
  ASSERT_EQ(o.code, 0) << o.err;
  o = ingest({"--metric", "ip", "--bits", "4"});
  EXPECT_EQ(o.code, 0) << o.err;
  o = ingest({"--metric", "l2", "--bits", "2", "--method", "pq",
              "--no-store-vectors"});
  EXPECT_EQ(o.code, 2) << o.out << o.err;
  EXPECT_THAT(o.err, HasSubstr("collection 'docs' exists with other settings"));
  EXPECT_THAT(o.err, HasSubstr("metric ip (--metric l2)"));
  EXPECT_THAT(o.err, HasSubstr("bits 4 (--bits 2)"));
  EXPECT_THAT(o.err, HasSubstr("method renorm (--method pq)"));
  EXPECT_THAT(o.err, HasSubstr("store_vectors true (--no-store-vectors)"));
  EXPECT_THAT(o.out, Not(HasSubstr("ingested")));
  o = ingest({"--metric", "ip", "--bits", "4", "--prefix-sharing", "always"});
  EXPECT_EQ(o.code, 2) << o.out << o.err;
  EXPECT_THAT(o.err,
              HasSubstr("prefix_sharing auto (--prefix-sharing always)"));
  o = ingest({"--metric", "ip", "--prefix-sharing", "sometimes"});
  EXPECT_EQ(o.code, 2) << o.out << o.err;
  EXPECT_THAT(o.err, HasSubstr("--prefix-sharing"));
  EXPECT_THAT(o.err, HasSubstr("is not one of auto, always, never"));
  // The pca weighting is compared when given (collections from before it
  // read as off, the flag's default is auto); it applies to pca only.
  o = ingest({"--metric", "ip", "--pca-weighting", "on"});
  EXPECT_EQ(o.code, 2) << o.out << o.err;
  EXPECT_THAT(o.err, HasSubstr("pca_weighting auto (--pca-weighting on)"));
  o = ingest({"--metric", "ip", "--pca-weighting", "maybe"});
  EXPECT_EQ(o.code, 2) << o.out << o.err;
  EXPECT_THAT(o.err, HasSubstr("is not one of auto, off, on"));
  // Without --create the flags are not settings: no comparison.
  o = RunCommand(RunIngest, {"--data", tmp.File("db"), "--collection", "docs",
                             "--input", in, "--progress", "none"});
  EXPECT_EQ(o.code, 0) << o.err;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A self-signed certificate for `name` (not for 127.0.0.1) in dir/name.pem
// and dir/name.key.
void MakeCertificate(const TempDir& tmp, const std::string& name) {
  const std::string cmd = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=", name,
      " -addext subjectAltName=DNS:", name, " -keyout ",
      tmp.File(name + ".key"), " -out ", tmp.File(name + ".pem"),
      " >/dev/null 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl (tools/setup.sh) failed";
}

// Every client command talks TLS with --tls-ca (and --tls-server-name when
// the certificate names another host than the address); a failure says
// TLS, not "no tqdb server answers".
TEST(CliEdges, ClientCommandsTalkTls) {
  TempDir tmp;
  MakeCertificate(tmp, "tqdb-test");
  MakeCertificate(tmp, "other-ca");
  ServerOptions so;
  so.tls_cert_pem = ReadFile(tmp.File("tqdb-test.pem"));
  so.tls_key_pem = ReadFile(tmp.File("tqdb-test.key"));
  Target t(tmp.File("db"), {}, so, /*serve=*/true);
  const std::string in = tmp.File("in.jsonl");
  std::ofstream(in) << Jsonl(20, 8);
  const std::vector<std::string> tls = {
      "--server",          t.address(), "--tls-ca", tmp.File("tqdb-test.pem"),
      "--tls-server-name", "tqdb-test"};
  auto with = [](std::vector<std::string> a,
                 const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  Outcome o =
      RunCommand(RunIngest, with(tls, {"--collection", "c", "--input", in,
                                       "--create", "--progress", "none"}));
  ASSERT_EQ(o.code, 0) << o.err;
  o = RunCommand(RunCollections, with(tls, {"list"}));
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("c "));
  o = RunCommand(RunSearch, with(tls, {"--collection", "c", "--vector",
                                       "1,2,3,4,5,6,7,8", "--k", "2"}));
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("2 neighbours"));

  // Plaintext to a TLS server.
  o = RunCommand(RunCollections, {"--server", t.address(), "list"});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, AllOf(HasSubstr("TLS"), HasSubstr("--tls-ca"),
                           Not(HasSubstr("no tqdb server answers"))));
  // The wrong CA.
  o = RunCommand(RunCollections,
                 {"--server", t.address(), "--tls-ca", tmp.File("other-ca.pem"),
                  "--tls-server-name", "tqdb-test", "list"});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, AllOf(HasSubstr("TLS handshake"), HasSubstr("--tls-ca")));
  // The right CA, but the certificate does not name 127.0.0.1.
  o = RunCommand(RunCollections, {"--server", t.address(), "--tls-ca",
                                  tmp.File("tqdb-test.pem"), "list"});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr("--tls-server-name"));
  // An unreadable CA file is the user's to fix.
  o = RunCommand(RunCollections, {"--server", t.address(), "--tls-ca",
                                  tmp.File("missing.pem"), "list"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("missing.pem"));
  // --tls-server-name alone means nothing.
  o = RunCommand(RunCollections, {"--server", t.address(), "--tls-server-name",
                                  "tqdb-test", "list"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--tls-server-name needs --tls-ca"));
}

}  // namespace
}  // namespace tqdb
