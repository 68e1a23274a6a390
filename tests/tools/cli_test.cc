// Tests of the database subcommands' error contract (tools/cli/): every
// input error names its file (and the row or line), exits 2, and an ingest
// stopped by one says how many rows are in and how to resume; the one
// output and exit-code policy (tools/cli/output.h); the progress line.
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/tools_test_util.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"
#include "tools/cli/progress.h"

namespace tqdb {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing_util::Outcome;
using testing_util::RunCommand;
using testing_util::TempDir;

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// n rows of dimension d as JSON Lines, {"vector": [...]}.
std::string Jsonl(int n, int d) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += "{\"vector\": [";
    for (int j = 0; j < d; ++j) s += (j ? ", " : "") + std::to_string(i + j);
    s += "]}\n";
  }
  return s;
}

// n rows of dimension d as TEXMEX fvecs.
std::string Fvecs(int n, int d) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const int32_t dim = d;
    s.append(reinterpret_cast<const char*>(&dim), 4);
    for (int j = 0; j < d; ++j) {
      const float v = static_cast<float>(i + j + 1);
      s.append(reinterpret_cast<const char*>(&v), 4);
    }
  }
  return s;
}

class CliTest : public ::testing::Test {
 protected:
  Outcome Ingest(std::vector<std::string> args) {
    args.insert(args.end(), {"--data", tmp_.File("db"), "--collection", "docs",
                             "--progress", "none"});
    std::ostringstream out, err;
    Outcome o;
    o.code = RunIngest(args, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
  }
  Outcome Search(std::vector<std::string> args) {
    args.insert(args.end(),
                {"--data", tmp_.File("db"), "--collection", "docs", "--exact"});
    std::ostringstream out, err;
    Outcome o;
    o.code = RunSearch(args, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
  }

  // Expects exit 2 and a message holding every part.
  void ExpectInputError(const Outcome& o,
                        const std::vector<std::string>& parts) {
    EXPECT_EQ(o.code, 2) << o.out << o.err;
    for (const std::string& p : parts) EXPECT_THAT(o.err, HasSubstr(p));
  }

  TempDir tmp_;
};

// The issue's second bug: "--dim 512 does not match the input's dimension
// 2" did not say which input.
TEST_F(CliTest, DimFlagOfAnotherDimensionNamesTheFile) {
  const std::string x = tmp_.File("x.jsonl");
  Write(x, Jsonl(5, 2));
  ExpectInputError(Ingest({"--input", x, "--create", "--dim", "512"}),
                   {x, "dimension 2", "--dim 512"});
  // The file's dimension, or --dim saying the same, is fine.
  EXPECT_EQ(Ingest({"--input", x, "--create", "--dim", "2"}).code, 0);
}

TEST_F(CliTest, InputErrorsNameTheFileAndTheRow) {
  const std::string good = tmp_.File("good.jsonl");
  Write(good, Jsonl(30, 3));
  const std::string missing = tmp_.File("missing.fvecs");
  ExpectInputError(Ingest({"--input", missing, "--create"}),
                   {missing, "cannot open"});
  const std::string unknown = tmp_.File("x.parquet");
  Write(unknown, "abc");
  ExpectInputError(Ingest({"--input", unknown, "--create"}),
                   {unknown, "unknown extension"});
  const std::string bad_json = tmp_.File("bad.jsonl");
  Write(bad_json, Jsonl(2, 3) + "{\"vector\": [1, 2,\n");
  ExpectInputError(Ingest({"--input", bad_json, "--create", "--batch", "1"}),
                   {bad_json, "line 3", "unparsable JSON",
                    "2 rows committed to 'docs'", "--skip 2"});
  const std::string nan = tmp_.File("nan.csv");
  Write(nan, "1,1,2,3\n2,4,nan,6\n");
  ExpectInputError(Ingest({"--input", nan, "--create"}),
                   {nan, "line 2 column 3: NaN"});
  const std::string truncated = tmp_.File("t.fvecs");
  Write(truncated, Fvecs(12, 3).substr(0, 16 * 10 + 7));
  ExpectInputError(Ingest({"--input", truncated, "--create", "--batch", "4"}),
                   {truncated, "row 11: incomplete", "10 rows committed",
                    "rows 1 to 10 of " + truncated, "--skip 10"});
  // Side files: a bad id, too few ids, a bad payload line, too few lines.
  const std::string ids = tmp_.File("ids.txt");
  Write(ids, "1\n2\nthree\n");
  ExpectInputError(Ingest({"--input", good, "--ids", ids, "--create"}),
                   {ids, "line 3", "\"three\""});
  Write(ids, "1\n2\n3\n");
  ExpectInputError(Ingest({"--input", good, "--ids", ids, "--create"}),
                   {ids, "fewer ids than " + good, "before row 4"});
  const std::string payload = tmp_.File("p.jsonl");
  Write(payload, "{}\n[1,\n");
  ExpectInputError(Ingest({"--input", good, "--payload", payload, "--create"}),
                   {payload, "line 2", "unparsable JSON"});
  Write(payload, "{}\n");
  ExpectInputError(Ingest({"--input", good, "--payload", payload, "--create"}),
                   {payload, "fewer lines than " + good});
  ExpectInputError(
      Ingest({"--input", good, "--payload", tmp_.File("none.jsonl")}),
      {tmp_.File("none.jsonl"), "cannot open"});
  // Skipping past the end, and an input of another dimension than the
  // collection (created above from good.jsonl? no: every ingest so far
  // failed before or in its first batch, so create it now).
  ExpectInputError(Ingest({"--input", good, "--skip", "31", "--create"}),
                   {good, "cannot skip 31 rows"});
  ASSERT_EQ(Ingest({"--input", good, "--create"}).code, 0);
  const std::string other = tmp_.File("other.fvecs");
  Write(other, Fvecs(3, 4));
  ExpectInputError(Ingest({"--input", other}),
                   {other, "dimension 4", "collection 'docs' has 3"});
}

TEST_F(CliTest, QueryFileErrorsNameTheFile) {
  const std::string good = tmp_.File("good.jsonl");
  Write(good, Jsonl(30, 3));
  ASSERT_EQ(Ingest({"--input", good, "--create"}).code, 0);
  Outcome ok = Search({"--query-file", good, "--row", "29"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr(good + " row 29"));
  ExpectInputError(Search({"--query-file", good, "--row", "30"}),
                   {good, "no row 30"});
  ExpectInputError(Search({"--query-file", good, "--row", "31"}),
                   {good, "cannot skip 31 rows"});
  const std::string missing = tmp_.File("q.npy");
  ExpectInputError(Search({"--query-file", missing}), {missing, "cannot open"});
  const std::string bad = tmp_.File("q.csv");
  Write(bad, "1,2,x,3\n");
  ExpectInputError(Search({"--query-file", bad}),
                   {bad, "line 1 column 3: bad number \"x\""});
  ExpectInputError(Search({"--query-file", good, "--format", "npy"}),
                   {good, "not a .npy file"});
}

TEST_F(CliTest, UsageErrorsPointAtHelp) {
  std::ostringstream out, err;
  EXPECT_EQ(RunIngest({"--collection", "docs", "--input"}, out, err), 2);
  EXPECT_EQ(err.str(),
            "tqdb ingest: --input needs a value\n"
            "Run 'tqdb ingest --help' for usage.\n");
  err.str("");
  EXPECT_EQ(RunCollections({"--data", tmp_.File("db"), "frobnicate"}, out, err),
            2);
  EXPECT_THAT(err.str(), AllOf(HasSubstr("unknown action 'frobnicate'"),
                               HasSubstr("tqdb collections --help")));
  const Outcome stray = Search({"--vector", "1,2,3", "stray"});
  EXPECT_EQ(stray.code, 2);
  EXPECT_THAT(stray.err, HasSubstr("unexpected argument 'stray'"));
}

TEST_F(CliTest, BadFiltersExitTwoNamingThePlace) {
  const std::string data = tmp_.File("db");
  const std::string good = tmp_.File("good.jsonl");
  Write(good, Jsonl(50, 3));
  ASSERT_EQ(
      RunCommand(RunIngest, {"--data", data, "--collection", "c", "--input",
                             good, "--create", "--progress", "none"})
          .code,
      0);
  ASSERT_EQ(
      RunCommand(RunCollections, {"--data", data, "index", "c", "k", "keyword"})
          .code,
      0);
  auto search = [&](const std::string& filter) {
    return RunCommand(RunSearch, {"--data", data, "--collection", "c",
                                  "--vector", "1,2,3", "--filter", filter});
  };
  // The JSON syntax (a usage error) and the database's rules (its error).
  Outcome o = search(R"({"must": [{"key": "a", "range": {"gt": true}}]})");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("tqdb search: must[0].range.gt: expected a "
                               "number, got a bool"));
  o = search(R"({"must": [{"key": "k", "match": {"value": 5}}]})");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("tqdb search: must[0].match.value: field 'k' "
                               "has a keyword index: expected a string"));
  o = search("@" + tmp_.File("missing.json"));
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--filter: cannot read"));
  o = RunCommand(RunCollections, {"--data", data, "count", "c", "--filter",
                                  R"({"should": {"is_null": {}}})"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("should[0].is_null.key: missing"));
  o = RunCommand(RunCollections, {"--data", data, "index", "c", "k", "point"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("unknown field index type 'point' (keyword, "
                               "integer, float, bool, text, datetime or "
                               "geo)"));
  o = RunCommand(RunCollections, {"--data", data, "index", "c", "k", "text"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("field 'k' already has a keyword index"));
  o = RunCommand(RunScroll, {"--data", data, "--collection", "c", "--filter",
                             R"({"must": [{"has_id": "x"}]})"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("must[0].has_id: expected a list of ids"));
}

TEST_F(CliTest, ScrollOrderedByADatetime) {
  // Day i + 1 of March 2024 at midnight UTC, odd ids written at +02:00.
  const std::string data = tmp_.File("db");
  const std::string rows = tmp_.File("at.jsonl");
  std::string text;
  for (int i = 0; i < 10; ++i) {
    text += "{\"id\": " + std::to_string(i) + ", \"vector\": [1, 2, " +
            std::to_string(i) + "], \"payload\": {\"at\": \"2024-03-0" +
            std::to_string(i + 1) + (i % 2 ? "T02:00:00+02:00" : "T00:00Z") +
            "\"}}\n";
  }
  Write(rows, text);
  ASSERT_EQ(
      RunCommand(RunIngest, {"--data", data, "--collection", "c", "--input",
                             rows, "--create", "--progress", "none"})
          .code,
      0);
  ASSERT_EQ(RunCommand(RunCollections,
                       {"--data", data, "index", "c", "at", "datetime"})
                .code,
            0);
  auto scroll = [&](const std::string& from) {
    return RunCommand(
        RunScroll, {"--data", data, "--collection", "c", "--order-by", "at",
                    "--desc", "--start-from", from, "--limit", "2", "--json"});
  };
  Outcome o = scroll("2024-03-03T01:00:00+01:00");  // day 3, midnight UTC
  ASSERT_EQ(o.code, 0) << o.err;
  // (JSON numbers, shortest form: 1.709424e+15 is 1709424000000000.)
  EXPECT_THAT(o.out, HasSubstr(R"("id":2,"order_value":1.709424e+15)"));
  EXPECT_THAT(o.out, HasSubstr(R"("id":1,"order_value":1.7093376e+15)"));
  EXPECT_THAT(o.out, HasSubstr(R"("next_offset":0)"));
  EXPECT_EQ(scroll("1709424000000000").out, o.out);  // the same, as a number
  o = scroll("yesterday");
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--start-from: 'yesterday' is not a number, "
                               "nor an RFC 3339 datetime"));
}

TEST(OutputTest, ExitCodes) {
  EXPECT_EQ(ExitCodeOf(absl::OkStatus()), kExitOk);
  for (const absl::Status& s :
       {absl::InvalidArgumentError(""), absl::NotFoundError(""),
        absl::AlreadyExistsError(""), absl::FailedPreconditionError(""),
        absl::OutOfRangeError(""), absl::ResourceExhaustedError(""),
        absl::UnauthenticatedError("")}) {
    EXPECT_EQ(ExitCodeOf(s), kExitUsage) << s;
  }
  for (const absl::Status& s :
       {absl::UnavailableError(""), absl::InternalError(""),
        absl::DataLossError(""), absl::UnknownError("")}) {
    EXPECT_EQ(ExitCodeOf(s), kExitFailure) << s;
  }
  std::ostringstream err;
  EXPECT_EQ(Fail("search", absl::UnavailableError("no server"), err), 1);
  EXPECT_EQ(err.str(), "tqdb search: no server\n");
  err.str("");
  // An input file's error is the user's to fix, whatever its code.
  EXPECT_EQ(InputError("ingest", absl::DataLossError("x.fvecs: row 3"), err),
            2);
  EXPECT_EQ(err.str(), "tqdb ingest: x.fvecs: row 3\n");
  err.str("");
  EXPECT_EQ(UsageError("bench", "--k: bad", err), 2);
  EXPECT_EQ(err.str(),
            "tqdb bench: --k: bad\nRun 'tqdb bench --help' for usage.\n");
  EXPECT_EQ(Thousands(0), "0");
  EXPECT_EQ(Thousands(999), "999");
  EXPECT_EQ(Thousands(1234567), "1,234,567");
}

TEST(ProgressTest, LinesAndDurations) {
  EXPECT_EQ(FormatDuration(75), "1:15");
  EXPECT_EQ(FormatDuration(3725), "1:02:05");
  std::ostringstream err;
  Progress lines(err, "lines", 2000);
  lines.Update(500);  // too soon for a line
  lines.Update(1000, /*final=*/true);
  EXPECT_THAT(err.str(), AllOf(HasSubstr("ingest: 1,000 / 2,000 rows  50%"),
                               HasSubstr("rows/s"), Not(HasSubstr("["))));
  std::ostringstream quiet;
  Progress none(quiet, "none", std::nullopt);
  none.Update(10, true);
  EXPECT_EQ(quiet.str(), "");
}

}  // namespace
}  // namespace tqdb
