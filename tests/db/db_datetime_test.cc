// Ranges of datetimes (RFC 3339 strings) and datetime payload indexes: the
// parser's forms and limits (db/datetime.h) against libc's calendar, and
// counts and scrolls against the instants the test wrote (in every form:
// UTC, offsets, no zone, a date alone, nine-digit fractions), on the
// payloads, through an index, point by point, after writes and a reopen;
// and the errors.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/datetime.h"
#include "db/db.h"
#include "db/filter_json.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using json = nlohmann::json;

constexpr uint32_t kDim = 8;
constexpr int64_t kSecond = 1000000;
constexpr int64_t kDay = 86400 * kSecond;

constexpr auto F = dbtest::ParsedFilter;

// libc's reading of a UTC calendar time, in microseconds.
int64_t Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0,
            int64_t micros = 0) {
  struct tm t = {};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  return static_cast<int64_t>(timegm(&t)) * kSecond + micros;
}

// libc's calendar of an instant: strftime's `format` (UTC).
std::string Calendar(int64_t micros, const char* format) {
  const time_t secs = static_cast<time_t>(
      micros >= 0 ? micros / kSecond : (micros - kSecond + 1) / kSecond);
  struct tm t;
  gmtime_r(&secs, &t);
  char buf[64];
  strftime(buf, sizeof(buf), format, &t);
  return buf;
}

TEST(DatetimeTest, FormsAndInstants) {
  EXPECT_EQ(ParseDatetime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseDatetime("2024-02-29T12:34:56.789Z"),
            Utc(2024, 2, 29, 12, 34, 56, 789000));
  EXPECT_EQ(ParseDatetime("2024-02-29t12:34:56.789z"),
            ParseDatetime("2024-02-29T12:34:56.789Z"));
  EXPECT_EQ(ParseDatetime("2024-03-01T00:30:00+01:00"),
            Utc(2024, 2, 29, 23, 30));
  EXPECT_EQ(ParseDatetime("2024-02-29T20:00:00-0430"), Utc(2024, 3, 1, 0, 30));
  EXPECT_EQ(ParseDatetime("2024-03-01 12:00:00"), Utc(2024, 3, 1, 12));
  EXPECT_EQ(ParseDatetime("2024-03-01T12:00"), Utc(2024, 3, 1, 12));
  EXPECT_EQ(ParseDatetime("2024-03-01"), Utc(2024, 3, 1));
  EXPECT_EQ(ParseDatetime("1969-12-31T23:59:59.5Z"), -kSecond / 2);
  EXPECT_EQ(ParseDatetime("2000-02-29"), Utc(2000, 2, 29));
  EXPECT_EQ(ParseDatetime("0001-01-01"), Utc(1, 1, 1));
  EXPECT_EQ(ParseDatetime("9999-12-31T23:59:59.999999Z"),
            Utc(9999, 12, 31, 23, 59, 59, 999999));
  // Nine digits: microseconds kept, the rest dropped.
  EXPECT_EQ(ParseDatetime("2024-03-01T12:00:00.123456789Z"),
            Utc(2024, 3, 1, 12, 0, 0, 123456));
}

TEST(DatetimeTest, NotDatetimes) {
  for (const char* bad : {"",
                          "2024",
                          "2024-03",
                          "2024-3-01",
                          "2024-13-01",
                          "2024-00-10",
                          "2023-02-29",
                          "1900-02-29",
                          "2024-04-31",
                          "2024-03-01T",
                          "2024-03-01T1",
                          "2024-03-01T24:00:00Z",
                          "2024-03-01T12:60",
                          "2024-03-01T12:00:60",
                          "2024-03-01T12:00:00.Z",
                          "2024-03-01T12:00:00.1234567891Z",
                          "2024-03-01T12:00:00+1",
                          "2024-03-01T12:00:00+24:00",
                          "2024-03-01T12:00:00ZZ",
                          "2024-03-01T12:00:00 Z",
                          "2024-03-01x",
                          " 2024-03-01",
                          "yesterday",
                          "+2024-03-01"}) {
    EXPECT_FALSE(ParseDatetime(bad).has_value()) << bad;
  }
}

TEST(DatetimeTest, FormatReadsBack) {
  Rng rng(3);
  for (int i = 0; i < 2000; ++i) {
    // Years 0001 to 9999, some whole seconds.
    const int64_t lo = Utc(1, 1, 1), hi = Utc(9999, 12, 31, 23, 59, 59);
    int64_t t = lo + static_cast<int64_t>(rng.Uniform(
                         static_cast<uint64_t>((hi - lo) / kSecond))) *
                         kSecond;
    if (i % 2 == 0) t += static_cast<int64_t>(rng.Uniform(kSecond));
    const std::string text = FormatDatetime(t);
    EXPECT_EQ(ParseDatetime(text), t) << text;
    // (strftime's %Y does not pad years before 1000.)
    const time_t secs = static_cast<time_t>(
        (t - ((t % kSecond) + kSecond) % kSecond) / kSecond);  // floor
    struct tm cal;
    gmtime_r(&secs, &cal);
    char want[80];
    snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d",
             cal.tm_year + 1900, cal.tm_mon + 1, cal.tm_mday, cal.tm_hour,
             cal.tm_min, cal.tm_sec);
    EXPECT_EQ(text.substr(0, 19), want) << t;
  }
}

// An instant of 2000-2030 in one of the accepted forms, and the instant
// the form stands for.
std::pair<std::string, int64_t> RandomInstant(Rng* rng) {
  const int64_t lo = Utc(2000, 1, 1), span = Utc(2030, 1, 1) - lo;
  const int64_t t =
      lo + static_cast<int64_t>(rng->Uniform(static_cast<uint64_t>(span)));
  const int64_t secs = t - t % kSecond;
  switch (rng->Uniform(6)) {
    case 0:  // UTC, microseconds
      return {Calendar(t, "%Y-%m-%dT%H:%M:%S.") +
                  absl::StrCat(1000000 + t % kSecond).substr(1) + "Z",
              t};
    case 1: {  // an offset: the local time there
      const int64_t offset = (rng->Uniform(2) ? 1 : -1) *
                             static_cast<int64_t>(rng->Uniform(14 * 4)) * 15 *
                             60 * kSecond;
      const int64_t minutes = (offset < 0 ? -offset : offset) / kSecond / 60;
      char zone[16];
      snprintf(zone, sizeof(zone), "%c%02d:%02d", offset < 0 ? '-' : '+',
               static_cast<int>(minutes / 60), static_cast<int>(minutes % 60));
      return {Calendar(secs + offset, "%Y-%m-%dT%H:%M:%S") + zone, secs};
    }
    case 2:  // no zone: UTC
      return {Calendar(secs, "%Y-%m-%d %H:%M:%S"), secs};
    case 3:  // a date: its midnight
      return {Calendar(t, "%Y-%m-%d"), t - t % kDay};
    case 4:  // nanoseconds
      return {Calendar(t, "%Y-%m-%dT%H:%M:%S.") +
                  absl::StrCat(1000000 + t % kSecond).substr(1) + "789Z",
              t};
    default:  // minutes
      return {Calendar(t, "%Y-%m-%dT%H:%MZ"), t - t % (60 * kSecond)};
  }
}

class DatetimeFilterTest : public dbtest::PayloadCollectionTest {
 protected:
  DatetimeFilterTest() : PayloadCollectionTest(kDim, 17) {}

  void SetUp() override {
    PayloadCollectionTest::SetUp();
    Write(0, 600);
  }

  // "at": an instant, two, or no datetime (not a string, not a datetime,
  // null, absent); the instants kept in instants_.
  json PayloadFor(uint64_t id, Rng* rng) override {
    json p = json::object();
    std::set<int64_t>& mine = instants_[id];
    mine.clear();
    switch (rng->Uniform(8)) {
      case 0:
        break;
      case 1:
        p["at"] = nullptr;
        break;
      case 2:
        p["at"] = rng->Uniform(2) ? json(1709294400) : json("2024-02-30");
        break;
      case 3: {
        auto [a, ta] = RandomInstant(rng);
        auto [b, tb] = RandomInstant(rng);
        p["at"] = json::array({a, 5, b});
        mine = {ta, tb};
        break;
      }
      default: {
        auto [a, ta] = RandomInstant(rng);
        p["at"] = a;
        mine = {ta};
      }
    }
    return p;
  }

  // Ranges with bounds at random instants (some exactly at a point's, for
  // gt against gte), in the forms of RandomInstant; scrolls and counts
  // against the instants written.
  void CheckAll(uint64_t seed) {
    Rng rng(seed);
    // (Bounds at values of the points checked one by one below.)
    std::vector<int64_t> held;
    for (const auto& [id, ts] : instants_) {
      if (id < 40) held.insert(held.end(), ts.begin(), ts.end());
    }
    for (int q = 0; q < 24; ++q) {
      auto [lo_text, lo] = RandomInstant(&rng);
      auto [hi_text, hi] = RandomInstant(&rng);
      if (q % 3 == 0 && !held.empty()) {  // a bound exactly at a value
        lo = held[rng.Uniform(held.size())];
        lo_text = FormatDatetime(lo);
      }
      if (q % 3 == 1 && !held.empty()) {
        hi = held[rng.Uniform(held.size())];
        hi_text = FormatDatetime(hi);
      }
      if (lo > hi) {
        std::swap(lo, hi);
        std::swap(lo_text, hi_text);
      }
      const bool open_lo = q % 2 == 0, open_hi = q % 4 < 2;
      const std::string condition =
          absl::StrCat(R"({"key": "at", "range": {")", open_lo ? "gt" : "gte",
                       R"(": ")", lo_text, R"(", ")", open_hi ? "lt" : "lte",
                       R"(": ")", hi_text, R"("}})");
      std::vector<uint64_t> want;
      for (const auto& [id, ts] : instants_) {
        for (int64_t t : ts) {
          if ((open_lo ? t > lo : t >= lo) && (open_hi ? t < hi : t <= hi)) {
            want.push_back(id);
            break;
          }
        }
      }
      ExpectMatches(condition, want);
    }
  }

  std::map<uint64_t, std::set<int64_t>> instants_;
};

TEST_F(DatetimeFilterTest, OnThePayloadsThroughAnIndexAndAfterAReopen) {
  CheckAll(1);
  auto info = c_->CreateFieldIndex("at", FieldType::kDatetime, true);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->type, FieldType::kDatetime);
  CheckAll(2);
  auto count = c_->Count(
      *F(R"({"must": [{"key": "at", "range": {"gte": "2010-01-01"}}]})"));
  ASSERT_TRUE(count.ok());
  EXPECT_TRUE(count->unindexed_fields.empty());
  // Writes after the index, deletes, then a reopen.
  Write(600, 200);
  ASSERT_TRUE(c_->Delete({3, 4, 5}, true).ok());
  for (uint64_t id : {3, 4, 5}) instants_.erase(id);
  CheckAll(3);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  CheckAll(4);
}

TEST_F(DatetimeFilterTest, Errors) {
  auto error_of = [&](const std::string& filter) {
    auto f = ParseFilterJson(filter);
    if (!f.ok()) return f.status();
    return c_->Count(*f).status();
  };
  absl::Status s =
      error_of(R"({"must": [{"key": "at", "range": {"gte": "2024-02-30"}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(),
            "must[0].range.gte: expected an RFC 3339 datetime "
            "(2024-03-01T12:00:00Z), got '2024-02-30'");
  s = error_of(
      R"({"must": [{"key": "at", "range": {"gte": "2024-02-01", "lt": 5}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("must[0].range.lt: expected a datetime string"),
            std::string::npos)
      << s;
  ASSERT_TRUE(c_->CreateFieldIndex("at", FieldType::kDatetime, true).ok());
  ASSERT_TRUE(c_->CreateFieldIndex("n", FieldType::kInteger, true).ok());
  s = error_of(R"({"must": [{"key": "at", "range": {"gte": 5}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(),
            "must[0].range: field 'at' has a datetime index: its ranges are "
            "of datetimes (RFC 3339 strings)");
  s = error_of(R"({"must": [{"key": "n", "range": {"gte": "2024-01-01"}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(),
            "must[0].range: field 'n' has an integer index: a range of "
            "datetimes needs a datetime index (or none)");
  s = error_of(R"({"must": [{"key": "at", "match": {"value": "x"}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  FacetOptions facet;
  facet.key = "at";
  EXPECT_TRUE(absl::IsFailedPrecondition(c_->Facet(facet).status()));
  // The JSON form reads back.
  auto f = ParseFilterJson(
      R"({"must": [{"key": "at", "range": {"gt": "2024-01-01T00:00:00+02:00",
                                           "lte": "2025-01-01"}}]})");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->must[0].datetimes.lo, Utc(2023, 12, 31, 22) + 1);
  EXPECT_EQ(f->must[0].datetimes.hi, Utc(2025, 1, 1));
  auto back = FilterFromJson(FilterToJson(*f));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(FilterToJson(*back), FilterToJson(*f));
}

}  // namespace
}  // namespace tqdb
