// A tiny self-contained SVG line-chart writer for the benchmark reports.
//
// A Document is a fixed-size canvas on which charts, legends and text are
// placed at absolute coordinates (pixels, origin top left). A Chart draws its
// title, axes with ticks, tick labels and grid lines, axis labels, and one
// polyline with markers per Series, clipped to the plot area. Axes are
// linear, log10 or log2; ranges come from the data unless given. Points that
// are not finite, or not positive on a log axis, are skipped.
//
// The output uses only basic SVG 1.1 (no scripts, fonts or external
// references), so browsers and rsvg-convert render it alike.
//
// Thread-compatible: a Document is a plain value.
#ifndef TQDB_TOOLS_BENCH_SVG_H_
#define TQDB_TOOLS_BENCH_SVG_H_

#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace tqdb {
namespace svg {

enum class Scale { kLinear, kLog10, kLog2 };

struct Axis {
  std::string label;
  Scale scale = Scale::kLinear;
  // Axis range; NaN = from the data (rounded outwards to a tick).
  double min = NAN;
  double max = NAN;
};

enum class Marker { kNone, kCircle, kSquare, kTriangle, kDiamond, kCross };

struct Style {
  std::string color = "#1f77b4";  // any SVG colour
  Marker marker = Marker::kCircle;
  bool hollow = false;  // marker filled white, outlined in `color`
  std::string dash;     // SVG stroke-dasharray, e.g. "6,4"; "" = solid
  double line_width = 2.0;
};

struct Series {
  std::string name;  // for the legend (Chart draws none itself)
  Style style;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
  // Optional small text beside each point (same order as points; "" or a
  // missing entry = none).
  std::vector<std::string> point_labels;
};

struct Chart {
  std::string title;
  Axis x, y;
  std::vector<Series> series;
};

struct LegendEntry {
  std::string name;
  Style style;
};

class Document {
 public:
  Document(double width, double height) : width_(width), height_(height) {}

  void set_size(double width, double height) {
    width_ = width;
    height_ = height;
  }

  // Draws `chart` inside the box (x, y, w, h): title on top, y-axis labels
  // on the left, x-axis labels at the bottom.
  void AddChart(const Chart& chart, double x, double y, double w, double h);

  // Legend entries (a line sample with its marker, then the name) laid out
  // row by row in `columns` columns across width w from (x, y); an entry
  // with an empty name leaves its cell blank. Returns the height used.
  double AddLegend(const std::vector<LegendEntry>& entries, double x, double y,
                   double w, int columns);
  // Height AddLegend would use.
  static double LegendHeight(size_t entries, int columns);

  // anchor: "start", "middle" or "end".
  void AddText(double x, double y, const std::string& text, double size,
               const std::string& anchor = "start", bool bold = false,
               const std::string& color = "#222");

  // The whole document: "<svg ...>...</svg>\n".
  std::string ToString() const;

 private:
  double width_, height_;
  int next_clip_id_ = 0;
  std::string body_;
};

// Escapes &, <, >, " and ' for SVG text and attributes.
std::string Escape(const std::string& s);

// Short tick label: 0.95, 12, 1.5k, 20k, 3M.
std::string FormatTick(double v);

// Tick positions for [lo, hi] on the given scale (at least two when the
// range is non-empty).
std::vector<double> Ticks(double lo, double hi, Scale scale);

// Blends a "#rrggbb" colour towards white by t in [0, 1].
std::string Lighten(const std::string& color, double t);

}  // namespace svg
}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_SVG_H_
