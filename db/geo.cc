#include "db/geo.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"

namespace tqdb {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kRad = kPi / 180.0;
// Cells a cover may list before it takes coarser ones.
constexpr uint64_t kMaxCoverCells = 64;
// The covers' widening, in degrees (about 1 cm): what rounding in the
// shapes' tests can reach past the exact bounds.
constexpr double kCoverMargin = 1e-7;

uint32_t Quantize(double v, double lo, double span) {
  const double q = std::floor((v - lo) / span * double{1u << kGeoBits});
  if (!(q > 0)) return 0;  // (NaN too)
  return static_cast<uint32_t>(std::min(q, double{(1u << kGeoBits) - 1}));
}

// The bits of x at the even positions of the result.
uint64_t Spread(uint32_t x) {
  uint64_t v = x;
  v = (v | (v << 16)) & 0x0000FFFF0000FFFFull;
  v = (v | (v << 8)) & 0x00FF00FF00FF00FFull;
  v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0Full;
  v = (v | (v << 2)) & 0x3333333333333333ull;
  v = (v | (v << 1)) & 0x5555555555555555ull;
  return v;
}

int64_t Interleave(uint32_t qlat, uint32_t qlon) {
  return static_cast<int64_t>(Spread(qlat) << 1 | Spread(qlon));
}

// A rectangle of (lat, lon) in degrees, inclusive, within range.
struct Rect {
  double lat0, lat1, lon0, lon1;
};

GeoKeyRanges Cover(std::vector<Rect> rects) {
  struct Cells {
    uint32_t lat0, lat1, lon0, lon1;
  };
  std::vector<Cells> q;
  for (Rect r : rects) {
    r.lat0 = std::max(-90.0, r.lat0 - kCoverMargin);
    r.lat1 = std::min(90.0, r.lat1 + kCoverMargin);
    r.lon0 = std::max(-180.0, r.lon0 - kCoverMargin);
    r.lon1 = std::min(180.0, r.lon1 + kCoverMargin);
    if (!(r.lat0 <= r.lat1) || !(r.lon0 <= r.lon1)) continue;
    q.push_back({Quantize(r.lat0, -90, 180), Quantize(r.lat1, -90, 180),
                 Quantize(r.lon0, -180, 360), Quantize(r.lon1, -180, 360)});
  }
  GeoKeyRanges out;
  if (q.empty()) return out;
  // The finest level whose cells over the rectangles number few enough.
  int shift = 0;
  for (; shift < kGeoBits; ++shift) {
    uint64_t n = 0;
    for (const Cells& c : q) {
      n += uint64_t{(c.lat1 >> shift) - (c.lat0 >> shift) + 1} *
           ((c.lon1 >> shift) - (c.lon0 >> shift) + 1);
    }
    if (n <= kMaxCoverCells) break;
  }
  const int64_t span = (int64_t{1} << (2 * shift)) - 1;
  for (const Cells& c : q) {
    for (uint32_t y = c.lat0 >> shift; y <= c.lat1 >> shift; ++y) {
      for (uint32_t x = c.lon0 >> shift; x <= c.lon1 >> shift; ++x) {
        const int64_t lo = Interleave(y << shift, x << shift);
        out.emplace_back(lo, lo + span);
      }
    }
  }
  std::sort(out.begin(), out.end());
  GeoKeyRanges merged;
  for (const auto& r : out) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

enum class RingSide { kInside, kEdge, kOutside };

// Where p lies against a closed ring, in the plane of (lon, lat).
RingSide SideOf(const std::vector<GeoPoint>& ring, const GeoPoint& p) {
  bool inside = false;
  for (size_t i = 0; i + 1 < ring.size(); ++i) {
    const GeoPoint& a = ring[i];
    const GeoPoint& b = ring[i + 1];
    const double cross =
        (b.lon - a.lon) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lon - a.lon);
    if (cross == 0 && p.lon >= std::min(a.lon, b.lon) &&
        p.lon <= std::max(a.lon, b.lon) && p.lat >= std::min(a.lat, b.lat) &&
        p.lat <= std::max(a.lat, b.lat)) {
      return RingSide::kEdge;
    }
    if ((a.lat > p.lat) != (b.lat > p.lat)) {
      const double x =
          a.lon + (p.lat - a.lat) * (b.lon - a.lon) / (b.lat - a.lat);
      if (p.lon < x) inside = !inside;
    }
  }
  return inside ? RingSide::kInside : RingSide::kOutside;
}

absl::Status CheckRing(const std::vector<GeoPoint>& ring,
                       const std::string& name) {
  if (ring.size() < 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": a ring needs at least 4 points, got ", ring.size()));
  }
  for (size_t i = 0; i < ring.size(); ++i) {
    absl::Status s = CheckGeoPoint(ring[i]);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ".points[", i, "].", s.message()));
    }
  }
  if (!(ring.front() == ring.back())) {
    return absl::InvalidArgumentError(absl::StrCat(
        name,
        ": the first and the last points must be the same (a closed "
        "ring)"));
  }
  return absl::OkStatus();
}

}  // namespace

bool ParseGeoPoint(const nlohmann::json& v, GeoPoint* out) {
  if (!v.is_object()) return false;
  const auto lon = v.find("lon");
  const auto lat = v.find("lat");
  if (lon == v.end() || lat == v.end() || !lon->is_number() ||
      !lat->is_number()) {
    return false;
  }
  GeoPoint p{lon->get<double>(), lat->get<double>()};
  if (!CheckGeoPoint(p).ok()) return false;
  *out = p;
  return true;
}

absl::Status CheckGeoPoint(const GeoPoint& p) {
  if (!(p.lat >= -90 && p.lat <= 90)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lat: ", p.lat, " is out of -90..90"));
  }
  if (!(p.lon >= -180 && p.lon <= 180)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lon: ", p.lon, " is out of -180..180"));
  }
  return absl::OkStatus();
}

absl::Status CheckGeoPolygon(const GeoPolygon& p) {
  absl::Status s = CheckRing(p.exterior, "exterior");
  for (size_t i = 0; s.ok() && i < p.interiors.size(); ++i) {
    s = CheckRing(p.interiors[i], absl::StrCat("interiors[", i, "]"));
  }
  return s;
}

double HaversineMeters(const GeoPoint& a, const GeoPoint& b) {
  const double t1 = a.lat * kRad, t2 = b.lat * kRad;
  const double dt = (b.lat - a.lat) * kRad, dl = (b.lon - a.lon) * kRad;
  const double sdt = std::sin(dt / 2), sdl = std::sin(dl / 2);
  const double h = sdt * sdt + std::cos(t1) * std::cos(t2) * sdl * sdl;
  return kEarthRadiusMeters * 2 * std::asin(std::sqrt(std::min(1.0, h)));
}

bool InGeoRadius(const GeoRadius& r, const GeoPoint& p) {
  return HaversineMeters(r.center, p) < r.meters;
}

bool InGeoBox(const GeoBox& b, const GeoPoint& p) {
  const bool lon = b.top_left.lon > b.bottom_right.lon
                       ? p.lon > b.top_left.lon || p.lon < b.bottom_right.lon
                       : b.top_left.lon < p.lon && p.lon < b.bottom_right.lon;
  return lon && b.bottom_right.lat < p.lat && p.lat < b.top_left.lat;
}

bool InGeoPolygon(const GeoPolygon& poly, const GeoPoint& p) {
  if (SideOf(poly.exterior, p) != RingSide::kInside) return false;
  for (const auto& ring : poly.interiors) {
    if (SideOf(ring, p) != RingSide::kOutside) return false;
  }
  return true;
}

int64_t GeoCellKey(const GeoPoint& p) {
  return Interleave(Quantize(p.lat, -90, 180), Quantize(p.lon, -180, 360));
}

GeoKeyRanges GeoCover(const GeoRadius& r) {
  if (!(r.meters > 0)) return {};
  const double d = r.meters / kEarthRadiusMeters;  // radians
  if (d >= kPi) return Cover({{-90, 90, -180, 180}});
  const double lat0 = r.center.lat - d / kRad, lat1 = r.center.lat + d / kRad;
  if (lat0 <= -90 || lat1 >= 90) {  // around a pole: every longitude
    return Cover({{lat0, lat1, -180, 180}});
  }
  // The circle's widest longitudes (where its tangent meets a meridian).
  const double ratio = std::sin(d) / std::cos(r.center.lat * kRad);
  const double dlon = std::asin(std::min(1.0, ratio)) / kRad;
  const double lon0 = r.center.lon - dlon, lon1 = r.center.lon + dlon;
  if (lon0 < -180) {
    return Cover({{lat0, lat1, lon0 + 360, 180}, {lat0, lat1, -180, lon1}});
  }
  if (lon1 > 180) {
    return Cover({{lat0, lat1, lon0, 180}, {lat0, lat1, -180, lon1 - 360}});
  }
  return Cover({{lat0, lat1, lon0, lon1}});
}

GeoKeyRanges GeoCover(const GeoBox& b) {
  const double lat0 = b.bottom_right.lat, lat1 = b.top_left.lat;
  if (b.top_left.lon > b.bottom_right.lon) {
    return Cover({{lat0, lat1, b.top_left.lon, 180},
                  {lat0, lat1, -180, b.bottom_right.lon}});
  }
  return Cover({{lat0, lat1, b.top_left.lon, b.bottom_right.lon}});
}

GeoKeyRanges GeoCover(const GeoPolygon& p) {
  if (p.exterior.empty()) return {};
  Rect r{90, -90, 180, -180};
  for (const GeoPoint& x : p.exterior) {
    r.lat0 = std::min(r.lat0, x.lat);
    r.lat1 = std::max(r.lat1, x.lat);
    r.lon0 = std::min(r.lon0, x.lon);
    r.lon1 = std::max(r.lon1, x.lon);
  }
  return Cover({r});
}

}  // namespace tqdb
