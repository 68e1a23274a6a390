// Geo filters (db/geo.h): the shapes' tests against independent
// references, the covers a geo index unites, and the conditions (with
// values_count) on a collection's payloads, through a geo index and after
// writes, deletes and a reopen, against the points the test wrote.
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/filter_json.h"
#include "db/geo.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::ParsedFilter;
using dbtest::VectorFor;
using json = nlohmann::json;

constexpr uint32_t kDim = 8;
constexpr double kPi = 3.14159265358979323846;

// The great-circle distance from 3-vectors in long double: atan2 of the
// cross and dot products (another formula than the haversine).
double ReferenceMeters(const GeoPoint& a, const GeoPoint& b) {
  auto xyz = [](const GeoPoint& p, long double out[3]) {
    const long double lat = p.lat * kPi / 180, lon = p.lon * kPi / 180;
    out[0] = std::cos(lat) * std::cos(lon);
    out[1] = std::cos(lat) * std::sin(lon);
    out[2] = std::sin(lat);
  };
  long double u[3], v[3];
  xyz(a, u);
  xyz(b, v);
  const long double cx = u[1] * v[2] - u[2] * v[1];
  const long double cy = u[2] * v[0] - u[0] * v[2];
  const long double cz = u[0] * v[1] - u[1] * v[0];
  const long double dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
  return static_cast<double>(
      kEarthRadiusMeters *
      std::atan2(std::sqrt(cx * cx + cy * cy + cz * cz), dot));
}

GeoPoint RandomPoint(Rng* rng) {
  // Uniform on the sphere's area, with a share at the poles' and the
  // antimeridian's edges.
  switch (rng->Uniform(8)) {
    case 0:
      return {rng->UniformDouble() * 360 - 180,
              89.9 + rng->UniformDouble() * 0.1};
    case 1:
      return {179.9 + rng->UniformDouble() * 0.1,
              rng->UniformDouble() * 180 - 90};
    case 2:
      return {-180 + rng->UniformDouble() * 0.1,
              rng->UniformDouble() * 180 - 90};
    default:
      return {rng->UniformDouble() * 360 - 180,
              std::asin(rng->UniformDouble() * 2 - 1) * 180 / kPi};
  }
}

// A point within about `degrees` of p (wrapped into range).
GeoPoint Near(const GeoPoint& p, double degrees, Rng* rng) {
  GeoPoint q{p.lon + (rng->UniformDouble() * 2 - 1) * degrees,
             p.lat + (rng->UniformDouble() * 2 - 1) * degrees};
  if (q.lon > 180) q.lon -= 360;
  if (q.lon < -180) q.lon += 360;
  q.lat = std::max(-90.0, std::min(90.0, q.lat));
  return q;
}

std::vector<GeoPoint> Square(double lon, double lat, double half) {
  return {{lon - half, lat - half},
          {lon + half, lat - half},
          {lon + half, lat + half},
          {lon - half, lat + half},
          {lon - half, lat - half}};
}

TEST(GeoTest, HaversineAgainstVectors) {
  Rng rng(3);
  for (int i = 0; i < 20000; ++i) {
    const GeoPoint a = RandomPoint(&rng);
    const GeoPoint b = i % 2 ? RandomPoint(&rng) : Near(a, 0.5, &rng);
    const double want = ReferenceMeters(a, b);
    EXPECT_NEAR(HaversineMeters(a, b), want, 1e-6 * want + 1e-3)
        << a.lon << "," << a.lat << " " << b.lon << "," << b.lat;
  }
  // Berlin to Paris, about 878 km.
  const double d = HaversineMeters({13.405, 52.52}, {2.3522, 48.8566});
  EXPECT_GT(d, 876e3);
  EXPECT_LT(d, 879e3);
  EXPECT_TRUE(InGeoRadius({{13.405, 52.52}, 878e3}, {2.3522, 48.8566}));
  EXPECT_FALSE(InGeoRadius({{13.405, 52.52}, d}, {2.3522, 48.8566}));  // <
}

TEST(GeoTest, BoxesAndPolygons) {
  const GeoBox box{{10, 50}, {20, 40}};
  EXPECT_TRUE(InGeoBox(box, {15, 45}));
  EXPECT_FALSE(InGeoBox(box, {10, 45}));  // on an edge: outside
  EXPECT_FALSE(InGeoBox(box, {15, 50}));
  EXPECT_FALSE(InGeoBox(box, {25, 45}));
  const GeoBox across{{170, 10}, {-170, -10}};  // across the antimeridian
  EXPECT_TRUE(InGeoBox(across, {175, 0}));
  EXPECT_TRUE(InGeoBox(across, {-175, 0}));
  EXPECT_FALSE(InGeoBox(across, {0, 0}));
  EXPECT_FALSE(InGeoBox(across, {175, 20}));

  GeoPolygon ring{Square(0, 0, 10), {Square(0, 0, 2)}};
  ASSERT_TRUE(CheckGeoPolygon(ring).ok());
  EXPECT_TRUE(InGeoPolygon(ring, {5, 5}));
  EXPECT_FALSE(InGeoPolygon(ring, {1, 1}));      // in the hole
  EXPECT_FALSE(InGeoPolygon(ring, {10, 3}));     // on the exterior
  EXPECT_FALSE(InGeoPolygon(ring, {2, 0}));      // on the hole's edge
  EXPECT_FALSE(InGeoPolygon(ring, {-10, -10}));  // a vertex
  EXPECT_FALSE(InGeoPolygon(ring, {11, 0}));
  // Concave: an L, its notch outside.
  const GeoPolygon ell{{{0, 0}, {4, 0}, {4, 1}, {1, 1}, {1, 4}, {0, 4}, {0, 0}},
                       {}};
  EXPECT_TRUE(InGeoPolygon(ell, {0.5, 3}));
  EXPECT_TRUE(InGeoPolygon(ell, {3, 0.5}));
  EXPECT_FALSE(InGeoPolygon(ell, {3, 3}));

  EXPECT_FALSE(CheckGeoPolygon({{{0, 0}, {1, 0}, {0, 0}}, {}}).ok());
  absl::Status s = CheckGeoPolygon({{{0, 0}, {1, 0}, {1, 1}, {0, 1}}, {}});
  EXPECT_EQ(s.message(),
            "exterior: the first and the last points must be the same (a "
            "closed ring)");
  s = CheckGeoPolygon({Square(0, 0, 10), {Square(0, 95, 1)}});
  EXPECT_EQ(s.message(), "interiors[0].points[0].lat: 94 is out of -90..90");
}

// Every point a shape holds has its cell key in the shape's cover; and
// small shapes cover little of the key space.
TEST(GeoTest, CoversHoldTheirShapes) {
  Rng rng(5);
  int held = 0;
  for (int s = 0; s < 600; ++s) {
    const GeoPoint c = RandomPoint(&rng);
    Condition cond;
    GeoKeyRanges cover;
    double extent;  // degrees, about
    switch (s % 3) {
      case 0: {
        const double meters =
            std::pow(10.0, rng.UniformDouble() * 7.3);  // to 20Mm
        cond.kind = Condition::Kind::kGeoRadius;
        cond.geo_radius = {c, meters};
        cover = GeoCover(cond.geo_radius);
        extent = std::min(180.0, meters / 111e3 * 2 + 0.01);
        break;
      }
      case 1: {
        const double h = std::pow(10.0, rng.UniformDouble() * 4 - 3);
        GeoPoint tl{c.lon - h, std::min(90.0, c.lat + h)};
        GeoPoint br{c.lon + h, std::max(-90.0, c.lat - h)};
        if (tl.lon < -180) tl.lon += 360;  // across the antimeridian
        if (br.lon > 180) br.lon -= 360;
        cond.kind = Condition::Kind::kGeoBox;
        cond.geo_box = {tl, br};
        cover = GeoCover(cond.geo_box);
        extent = 2 * h;
        break;
      }
      default: {
        const double h = std::pow(10.0, rng.UniformDouble() * 3 - 2);
        std::vector<GeoPoint> ring;
        for (int i = 0; i < 5; ++i) ring.push_back(Near(c, h, &rng));
        ring.push_back(ring[0]);
        cond.kind = Condition::Kind::kGeoPolygon;
        cond.geo_polygon =
            std::make_shared<const GeoPolygon>(GeoPolygon{std::move(ring), {}});
        cover = GeoCover(*cond.geo_polygon);
        extent = 2 * h;
        break;
      }
    }
    ASSERT_LE(cover.size(), 64u);
    double covered = 0;
    for (size_t i = 0; i < cover.size(); ++i) {
      ASSERT_LE(cover[i].first, cover[i].second);
      if (i > 0) {
        ASSERT_GT(cover[i].first, cover[i - 1].second + 1);
      }
      covered += static_cast<double>(cover[i].second - cover[i].first) + 1;
    }
    if (extent < 0.01) {  // a city block: a sliver of the sphere
      EXPECT_LT(covered / std::pow(2.0, 62), 1e-6) << s;
    }
    for (int i = 0; i < 400; ++i) {
      const GeoPoint p = i % 4 == 0 ? RandomPoint(&rng)
                                    : Near(c, extent * (i % 2 ? 0.6 : 2), &rng);
      if (!InGeoShape(cond, p)) continue;
      ++held;
      const int64_t key = GeoCellKey(p);
      const bool in = std::any_of(cover.begin(), cover.end(), [&](auto& r) {
        return key >= r.first && key <= r.second;
      });
      ASSERT_TRUE(in) << "shape " << s << " point " << p.lon << "," << p.lat;
    }
  }
  EXPECT_GT(held, 20000);
}

// Payload field "loc": a point, two, or none (invalid ones, null, absent);
// "tags": lists of 0-4 strings (values_count).
class GeoFilterTest : public dbtest::PayloadCollectionTest {
 protected:
  GeoFilterTest() : PayloadCollectionTest(kDim, 23) {}

  void SetUp() override {
    PayloadCollectionTest::SetUp();
    Write(0, 800);
  }

  // Points gather around four places (two at the antimeridian and a pole),
  // some anywhere.
  GeoPoint Place(Rng* rng) {
    static const GeoPoint kPlaces[] = {
        {13.4, 52.5}, {179.95, -17.7}, {-179.95, -17.8}, {10, 89.95}};
    if (rng->Uniform(5) == 0) return RandomPoint(rng);
    return Near(kPlaces[rng->Uniform(4)], 0.2, rng);
  }

  json PayloadFor(uint64_t id, Rng* rng) override {
    json p = json::object();
    std::vector<GeoPoint>& mine = geo_[id];
    mine.clear();
    auto point = [](const GeoPoint& g) {
      return json{{"lon", g.lon}, {"lat", g.lat}};
    };
    switch (rng->Uniform(8)) {
      case 0:
        break;
      case 1:
        p["loc"] = nullptr;
        break;
      case 2:  // not geo points
        p["loc"] = rng->Uniform(2) ? json{{"lon", 10}, {"lat", 95}}
                                   : json{{"lon", 10}};
        break;
      case 3: {
        const GeoPoint a = Place(rng), b = Place(rng);
        p["loc"] = json::array({point(a), "x", point(b)});
        mine = {a, b};
        break;
      }
      default: {
        const GeoPoint a = Place(rng);
        p["loc"] = point(a);
        mine = {a};
      }
    }
    const uint64_t tags = rng->Uniform(6);
    if (tags < 5) {
      p["tags"] = json::array();
      for (uint64_t i = 0; i < tags; ++i) p["tags"].push_back("t");
    }
    counts_[id] = tags < 5 ? tags : 0;
    return p;
  }

  std::vector<uint64_t> Holding(const Condition& c) {
    std::vector<uint64_t> ids;
    for (const auto& [id, points] : geo_) {
      if (std::any_of(points.begin(), points.end(),
                      [&](const GeoPoint& p) { return InGeoShape(c, p); })) {
        ids.push_back(id);
      }
    }
    return ids;
  }

  void CheckAll(uint64_t seed) {
    Rng rng(seed);
    std::vector<GeoPoint> held;
    for (const auto& [id, points] : geo_) {
      held.insert(held.end(), points.begin(), points.end());
    }
    ASSERT_FALSE(held.empty());
    int matched = 0;
    for (int q = 0; q < 18; ++q) {
      const GeoPoint at = held[rng.Uniform(held.size())];
      std::string condition;
      switch (q % 3) {
        case 0: {
          // A radius exactly at another point's distance now and then (it
          // is not in: the distance must be below the radius).
          double meters = std::pow(10.0, 2 + rng.UniformDouble() * 4);
          if (q % 2)
            meters = HaversineMeters(at, held[rng.Uniform(held.size())]);
          condition = json{{"key", "loc"},
                           {"geo_radius",
                            {{"center", {{"lon", at.lon}, {"lat", at.lat}}},
                             {"radius", meters}}}}
                          .dump();
          break;
        }
        case 1: {
          const double h = 0.01 + rng.UniformDouble() * 0.3;
          double left = at.lon - h, right = at.lon + h;
          if (left < -180) left += 360;
          if (right > 180) right -= 360;
          condition =
              json{{"key", "loc"},
                   {"geo_bounding_box",
                    {{"top_left",
                      {{"lon", left}, {"lat", std::min(90.0, at.lat + h)}}},
                     {"bottom_right",
                      {{"lon", right}, {"lat", std::max(-90.0, at.lat - h)}}}}}}
                  .dump();
          break;
        }
        default: {
          const double h = 0.05 + rng.UniformDouble() * 0.3;
          // (Polygons do not wrap: one within range, at the point or
          // beside it.)
          const double lon = std::max(-180 + h, std::min(180 - h, at.lon));
          const double lat = std::max(-90 + h, std::min(90 - h, at.lat));
          json exterior = json::array(), hole = json::array();
          for (const GeoPoint& p : Square(lon, lat, h)) {
            exterior.push_back({{"lon", p.lon}, {"lat", p.lat}});
          }
          for (const GeoPoint& p : Square(lon, lat, h / 4)) {
            hole.push_back({{"lon", p.lon}, {"lat", p.lat}});
          }
          json poly = {{"exterior", {{"points", exterior}}}};
          if (q % 2) poly["interiors"] = {{{"points", hole}}};
          condition = json{{"key", "loc"}, {"geo_polygon", poly}}.dump();
          break;
        }
      }
      auto f = ParseFilterJson(absl::StrCat(R"({"must": [)", condition, "]}"));
      ASSERT_TRUE(f.ok()) << condition << ": " << f.status();
      const std::vector<uint64_t> want = Holding(f->must[0]);
      matched += !want.empty();
      ExpectMatches(condition, want);
    }
    EXPECT_GT(matched, 9);
    // values_count: tags' lengths (absent: none).
    for (const auto& [op, n] : std::vector<std::pair<std::string, uint64_t>>{
             {"lt", 1}, {"gte", 2}, {"gt", 3}, {"lte", 0}}) {
      std::vector<uint64_t> want;
      for (const auto& [id, count] : counts_) {
        if (CountRange{op == "gt" ? std::optional<uint64_t>(n) : std::nullopt,
                       op == "gte" ? std::optional<uint64_t>(n) : std::nullopt,
                       op == "lt" ? std::optional<uint64_t>(n) : std::nullopt,
                       op == "lte" ? std::optional<uint64_t>(n) : std::nullopt}
                .Holds(count)) {
          want.push_back(id);
        }
      }
      ExpectMatches(absl::StrCat(R"({"key": "tags", "values_count": {")", op,
                                 R"(": )", n, "}}"),
                    want);
    }
  }

  std::map<uint64_t, std::vector<GeoPoint>> geo_;
  std::map<uint64_t, uint64_t> counts_;
};

TEST_F(GeoFilterTest, OnThePayloadsThroughAnIndexAndAfterAReopen) {
  CheckAll(1);
  auto info = c_->CreateFieldIndex("loc", FieldType::kGeo, true);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->type, FieldType::kGeo);
  CheckAll(2);
  auto count = c_->Count(*ParsedFilter(
      R"({"must": [{"key": "loc", "geo_radius": {"center": {"lon": 13.4,
          "lat": 52.5}, "radius": 5000}}]})"));
  ASSERT_TRUE(count.ok());
  EXPECT_TRUE(count->unindexed_fields.empty());
  // Writes after the index, deletes, then a reopen.
  Write(800, 200);
  Write(100, 50);  // new payloads for points that had some
  ASSERT_TRUE(c_->Delete({3, 4, 5}, true).ok());
  for (uint64_t id : {3, 4, 5}) {
    geo_.erase(id);
    counts_.erase(id);
  }
  CheckAll(3);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  CheckAll(4);
}

TEST_F(GeoFilterTest, Errors) {
  auto error_of = [&](const std::string& condition) {
    auto f = ParseFilterJson(absl::StrCat(R"({"must": [)", condition, "]}"));
    if (!f.ok()) return f.status();
    return c_->Count(*f).status();
  };
  auto expect = [&](const std::string& condition, const std::string& message) {
    const absl::Status s = error_of(condition);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << condition << ": " << s;
    EXPECT_EQ(s.message(), message) << condition;
  };
  expect(R"({"key": "loc", "geo_radius": {"center": {"lon": 1, "lat": 91},
             "radius": 5}})",
         "must[0].geo_radius.center.lat: 91 is out of -90..90");
  expect(R"({"key": "loc", "geo_radius": {"center": {"lon": 1, "lat": 1},
             "radius": -5}})",
         "must[0].geo_radius.radius: expected a finite number of meters >= "
         "0, got -5");
  expect(R"({"key": "loc", "geo_radius": {"center": {"lon": 1}, "radius": 5}})",
         "must[0].geo_radius.center: lat missing");
  expect(R"({"key": "loc", "geo_bounding_box": {"top_left": {"lon": 1,
             "lat": 1}}})",
         "must[0].geo_bounding_box: bottom_right missing");
  expect(R"({"key": "loc", "geo_polygon": {"exterior": {"points": [
             {"lon": 0, "lat": 0}, {"lon": 1, "lat": 0},
             {"lon": 1, "lat": 1}]}}})",
         "must[0].geo_polygon.exterior: a ring needs at least 4 points, got 3");
  expect(R"({"key": "loc", "values_count": {}})",
         "must[0].values_count: needs at least one of gt, gte, lt, lte");
  expect(R"({"key": "loc", "values_count": {"lt": -1}})",
         "must[0].values_count.lt: expected a count (an integer >= 0), got an "
         "integer");
  expect(R"({"key": "loc", "match": {"value": 1}, "values_count": {"lt": 1}})",
         "must[0]: a field condition takes one operator, got match and "
         "values_count");
  ASSERT_TRUE(c_->CreateFieldIndex("loc", FieldType::kGeo, true).ok());
  ASSERT_TRUE(c_->CreateFieldIndex("name", FieldType::kKeyword, true).ok());
  expect(R"({"key": "name", "geo_radius": {"center": {"lon": 1, "lat": 1},
             "radius": 5}})",
         "must[0].geo_radius: field 'name' has a keyword index: a geo "
         "condition needs a geo index (or none)");
  expect(R"({"key": "loc", "match": {"value": "x"}})",
         "must[0].match.value: field 'loc' has a geo index: a geo index "
         "answers geo_radius, geo_bounding_box and geo_polygon");
  // A condition built field by field is checked where it comes in.
  Condition raw;
  raw.kind = Condition::Kind::kGeoRadius;
  raw.key = "loc";
  raw.geo_radius = {{0, 100}, 5};
  Filter built;
  built.must.push_back(raw);
  const absl::Status bad = c_->Count(built).status();
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
  EXPECT_EQ(bad.message(),
            "must[0].geo_radius.center.lat: 100 is out of -90..90");
  // values_count reads the payloads, whatever the field's index.
  EXPECT_TRUE(error_of(R"({"key": "loc", "values_count": {"gte": 1}})").ok());
  FacetOptions facet;
  facet.key = "loc";
  EXPECT_TRUE(absl::IsFailedPrecondition(c_->Facet(facet).status()));
  // The JSON form reads back as it was written.
  const std::string text =
      R"({"must":[{"geo_polygon":{"exterior":{"points":[{"lat":0.0,"lon":0.0},)"
      R"({"lat":0.0,"lon":1.0},{"lat":1.0,"lon":1.0},{"lat":0.0,"lon":0.0}]},)"
      R"("interiors":[{"points":[{"lat":0.1,"lon":0.1},{"lat":0.1,"lon":0.2},)"
      R"({"lat":0.2,"lon":0.2},{"lat":0.1,"lon":0.1}]}]},"key":"loc"},)"
      R"({"geo_radius":{"center":{"lat":2.0,"lon":1.0},"radius":3.5},)"
      R"("key":"loc"},{"geo_bounding_box":{"bottom_right":{"lat":1.0,)"
      R"("lon":2.0},"top_left":{"lat":3.0,"lon":-1.0}},"key":"loc"},)"
      R"({"key":"tags","values_count":{"gte":2,"lt":5}}]})";
  auto f = ParseFilterJson(text);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(FilterToJson(*f).dump(), text);
}

}  // namespace
}  // namespace tqdb
