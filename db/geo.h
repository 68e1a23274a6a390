// Geo points in payloads and the shapes filters test them against
// (Qdrant's geo_radius, geo_bounding_box and geo_polygon), with the cells a
// geo payload index files points under.
//
// A geo point in a payload is an object with numbers "lon" (-180..180) and
// "lat" (-90..90); other members are ignored, anything else is not a geo
// point. The shapes, as Qdrant decides them:
//  - radius: the haversine distance to the center, on a sphere of radius
//    kEarthRadiusMeters, is below the radius (strictly);
//  - bounding box: lat strictly between bottom_right.lat and top_left.lat,
//    lon strictly between top_left.lon and bottom_right.lon, or, when
//    top_left.lon > bottom_right.lon (a box across the antimeridian),
//    above the first or below the second;
//  - polygon: in the plane of (lon, lat), inside the exterior ring and
//    inside no interior ring, a point on a ring's edge being outside
//    (rings closed: at least 4 points, the first repeated last).
//
// Cells: a point's cell key interleaves the bits of its latitude and
// longitude, each quantized to kGeoBits bits (a Z-order curve, 9 mm
// cells), so that every cell of a quadtree over (lat, lon) is one interval
// of keys. GeoCover lists intervals whose union holds every key of every
// point a shape may contain: an index unites them, then checks each point.
//
// Thread-safe: plain values and pure functions.
#ifndef TQDB_DB_GEO_H_
#define TQDB_DB_GEO_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace tqdb {

// The geo crate's (and Qdrant's) mean Earth radius.
constexpr double kEarthRadiusMeters = 6371008.8;
constexpr int kGeoBits = 31;

struct GeoPoint {
  double lon = 0, lat = 0;
  bool operator==(const GeoPoint& o) const {
    return lon == o.lon && lat == o.lat;
  }
  bool operator<(const GeoPoint& o) const {
    return lon < o.lon || (lon == o.lon && lat < o.lat);
  }
};

struct GeoRadius {
  GeoPoint center;
  double meters = 0;
};

struct GeoBox {
  GeoPoint top_left, bottom_right;
};

struct GeoPolygon {
  std::vector<GeoPoint> exterior;
  std::vector<std::vector<GeoPoint>> interiors;
};

// Whether v is a geo point (as above); *out set if so.
bool ParseGeoPoint(const nlohmann::json& v, GeoPoint* out);
// InvalidArgument naming what is wrong ("lat: ... out of -90..90").
absl::Status CheckGeoPoint(const GeoPoint& p);
// Rings of fewer than 4 points, or not closed, and points out of range:
// InvalidArgument naming the ring ("exterior", "interiors[1]") and point.
absl::Status CheckGeoPolygon(const GeoPolygon& p);

double HaversineMeters(const GeoPoint& a, const GeoPoint& b);
bool InGeoRadius(const GeoRadius& r, const GeoPoint& p);
bool InGeoBox(const GeoBox& b, const GeoPoint& p);
bool InGeoPolygon(const GeoPolygon& poly, const GeoPoint& p);

// The cell key of a point (in range): 2 * kGeoBits bits, non-negative.
int64_t GeoCellKey(const GeoPoint& p);

// Inclusive intervals of cell keys, sorted and disjoint, covering every
// point of the shape (a few dozen at most, coarser for larger shapes).
using GeoKeyRanges = std::vector<std::pair<int64_t, int64_t>>;
GeoKeyRanges GeoCover(const GeoRadius& r);
GeoKeyRanges GeoCover(const GeoBox& b);
GeoKeyRanges GeoCover(const GeoPolygon& p);

}  // namespace tqdb

#endif  // TQDB_DB_GEO_H_
