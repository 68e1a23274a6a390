#include "tools/bench/svg.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace tqdb {
namespace svg {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

double Transform(double v, Scale s) {
  switch (s) {
    case Scale::kLog10:
      return std::log10(v);
    case Scale::kLog2:
      return std::log2(v);
    case Scale::kLinear:
      break;
  }
  return v;
}

bool Usable(double v, Scale s) {
  return std::isfinite(v) && (s == Scale::kLinear || v > 0);
}

// 1, 2 or 5 times a power of ten, about `raw`.
double NiceStep(double raw) {
  if (!(raw > 0)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

// The axis range: given ends, else the data's, rounded outwards.
std::pair<double, double> Range(const Axis& axis, double dlo, double dhi) {
  const Scale s = axis.scale;
  const bool has_data = dlo <= dhi;
  if (!has_data) {
    dlo = s == Scale::kLinear ? 0 : 1;
    dhi = s == Scale::kLinear ? 1 : 10;
  }
  double lo = std::isnan(axis.min) ? dlo : axis.min;
  double hi = std::isnan(axis.max) ? dhi : axis.max;
  if (s != Scale::kLinear) {
    if (!(lo > 0)) lo = hi > 0 ? hi / 10 : 1;
    if (!(hi > lo)) hi = lo * 10;
  } else if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    if (std::isnan(axis.min)) lo -= pad;
    if (std::isnan(axis.max) || !(hi > lo)) hi = lo + 2 * pad;
  }
  switch (s) {
    case Scale::kLinear: {
      const double step = NiceStep((hi - lo) / 5);
      if (std::isnan(axis.min)) lo = std::floor(lo / step + 1e-9) * step;
      if (std::isnan(axis.max)) hi = std::ceil(hi / step - 1e-9) * step;
      break;
    }
    case Scale::kLog10: {
      const double l = std::log10(lo), h = std::log10(hi);
      const double pad = std::max(0.04, (h - l) * 0.05);
      if (std::isnan(axis.min)) lo = std::pow(10.0, l - pad);
      if (std::isnan(axis.max)) hi = std::pow(10.0, h + pad);
      break;
    }
    case Scale::kLog2:
      if (std::isnan(axis.min)) {
        lo = std::exp2(std::floor(std::log2(lo) + 1e-9));
      }
      if (std::isnan(axis.max)) hi = std::exp2(std::ceil(std::log2(hi) - 1e-9));
      if (!(hi > lo)) hi = lo * 2;
      break;
  }
  return {lo, hi};
}

void DrawMarker(std::string* out, Marker m, double x, double y,
                const Style& st) {
  const std::string fill = st.hollow ? "white" : st.color;
  const std::string paint = " fill=\"" + fill + "\" stroke=\"" + st.color +
                            "\" stroke-width=\"1.5\"/>";
  switch (m) {
    case Marker::kNone:
      return;
    case Marker::kCircle:
      *out += "<circle cx=\"" + Num(x) + "\" cy=\"" + Num(y) + "\" r=\"3.6\"" +
              paint;
      return;
    case Marker::kSquare:
      *out += "<rect x=\"" + Num(x - 3.3) + "\" y=\"" + Num(y - 3.3) +
              "\" width=\"6.6\" height=\"6.6\"" + paint;
      return;
    case Marker::kTriangle:
      *out += "<polygon points=\"" + Num(x) + "," + Num(y - 4.6) + " " +
              Num(x + 4.2) + "," + Num(y + 3.0) + " " + Num(x - 4.2) + "," +
              Num(y + 3.0) + "\"" + paint;
      return;
    case Marker::kDiamond:
      *out += "<polygon points=\"" + Num(x) + "," + Num(y - 4.8) + " " +
              Num(x + 4.0) + "," + Num(y) + " " + Num(x) + "," + Num(y + 4.8) +
              " " + Num(x - 4.0) + "," + Num(y) + "\"" + paint;
      return;
    case Marker::kCross:
      *out += "<path d=\"M" + Num(x - 3.8) + " " + Num(y - 3.8) + "L" +
              Num(x + 3.8) + " " + Num(y + 3.8) + "M" + Num(x - 3.8) + " " +
              Num(y + 3.8) + "L" + Num(x + 3.8) + " " + Num(y - 3.8) +
              "\" fill=\"none\" stroke=\"" + st.color +
              "\" stroke-width=\"2\"/>";
      return;
  }
}

std::string StrokeAttrs(const Style& st) {
  std::string s = " fill=\"none\" stroke=\"" + st.color + "\" stroke-width=\"" +
                  Num(st.line_width) +
                  "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"";
  if (!st.dash.empty()) s += " stroke-dasharray=\"" + Escape(st.dash) + "\"";
  return s;
}

}  // namespace

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatTick(double v) {
  char buf[32];
  const double a = std::abs(v);
  if (a < 1e-12) return "0";
  if (a >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.3gM", v / 1e6);
  } else if (a >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.3gk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g", v);
  }
  return buf;
}

std::vector<double> Ticks(double lo, double hi, Scale scale) {
  std::vector<double> t;
  if (!(hi > lo)) return t;
  const double eps = 1e-9;
  switch (scale) {
    case Scale::kLinear: {
      const double step = NiceStep((hi - lo) / 5);
      for (double k = std::ceil(lo / step - eps); k * step <= hi + eps * step;
           k += 1) {
        t.push_back(std::abs(k) < eps ? 0.0 : k * step);
      }
      break;
    }
    case Scale::kLog10: {
      // Mantissa sets, densest first; keep the densest with <= 10 ticks.
      const std::vector<std::vector<double>> sets = {
          {1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 5}, {1, 3}, {1}};
      const int e0 = static_cast<int>(std::floor(std::log10(lo)));
      const int e1 = static_cast<int>(std::ceil(std::log10(hi)));
      for (const auto& set : sets) {
        t.clear();
        for (int e = e0; e <= e1; ++e) {
          for (double m : set) {
            const double v = m * std::pow(10.0, e);
            if (v >= lo * (1 - eps) && v <= hi * (1 + eps)) t.push_back(v);
          }
        }
        if (t.size() <= 10) break;
      }
      if (t.size() > 10) {  // many decades: every few
        std::vector<double> s;
        const size_t every = (t.size() + 9) / 10;
        for (size_t i = 0; i < t.size(); i += every) s.push_back(t[i]);
        t = s;
      }
      break;
    }
    case Scale::kLog2: {
      const int e0 = static_cast<int>(std::ceil(std::log2(lo) - eps));
      const int e1 = static_cast<int>(std::floor(std::log2(hi) + eps));
      const int every = (e1 - e0) / 12 + 1;
      for (int e = e0; e <= e1; e += every) t.push_back(std::exp2(e));
      break;
    }
  }
  if (t.size() < 2) t = {lo, hi};
  return t;
}

std::string Lighten(const std::string& color, double t) {
  if (color.size() != 7 || color[0] != '#') return color;
  t = std::min(1.0, std::max(0.0, t));
  char out[8];
  int rgb[3];
  for (int i = 0; i < 3; ++i) {
    const int v = static_cast<int>(
        std::strtol(color.substr(1 + 2 * i, 2).c_str(), nullptr, 16));
    rgb[i] = static_cast<int>(std::lround(v + (255 - v) * t));
  }
  std::snprintf(out, sizeof(out), "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return out;
}

void Document::AddText(double x, double y, const std::string& text, double size,
                       const std::string& anchor, bool bold,
                       const std::string& color) {
  body_ += "<text x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" font-size=\"" +
           Num(size) + "\" text-anchor=\"" + anchor + "\" fill=\"" + color +
           "\"" + (bold ? " font-weight=\"bold\"" : "") + ">" + Escape(text) +
           "</text>\n";
}

void Document::AddChart(const Chart& chart, double x, double y, double w,
                        double h) {
  const double left = x + 64, right = x + w - 14;
  const double top = y + 34, bottom = y + h - 46;
  const double pw = right - left, ph = bottom - top;

  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const Series& s : chart.series) {
    for (const auto& [px, py] : s.points) {
      if (!Usable(px, chart.x.scale) || !Usable(py, chart.y.scale)) continue;
      xlo = std::min(xlo, px);
      xhi = std::max(xhi, px);
      ylo = std::min(ylo, py);
      yhi = std::max(yhi, py);
    }
  }
  const auto [x0, x1] = Range(chart.x, xlo, xhi);
  const auto [y0, y1] = Range(chart.y, ylo, yhi);
  const double tx0 = Transform(x0, chart.x.scale);
  const double tx1 = Transform(x1, chart.x.scale);
  const double ty0 = Transform(y0, chart.y.scale);
  const double ty1 = Transform(y1, chart.y.scale);
  auto sx = [&](double v) {
    return left + (Transform(v, chart.x.scale) - tx0) / (tx1 - tx0) * pw;
  };
  auto sy = [&](double v) {
    return bottom - (Transform(v, chart.y.scale) - ty0) / (ty1 - ty0) * ph;
  };

  body_ += "<g>\n";
  AddText(x + w / 2, y + 20, chart.title, 14, "middle", true);
  body_ += "<rect x=\"" + Num(left) + "\" y=\"" + Num(top) + "\" width=\"" +
           Num(pw) + "\" height=\"" + Num(ph) + "\" fill=\"#fcfcfc\"/>\n";
  // Grid lines and tick labels.
  for (double v : Ticks(x0, x1, chart.x.scale)) {
    const double px = sx(v);
    body_ += "<line x1=\"" + Num(px) + "\" y1=\"" + Num(top) + "\" x2=\"" +
             Num(px) + "\" y2=\"" + Num(bottom + 4) +
             "\" stroke=\"#dddddd\" stroke-width=\"1\"/>\n";
    AddText(px, bottom + 17, FormatTick(v), 11, "middle", false, "#444");
  }
  for (double v : Ticks(y0, y1, chart.y.scale)) {
    const double py = sy(v);
    body_ += "<line x1=\"" + Num(left - 4) + "\" y1=\"" + Num(py) + "\" x2=\"" +
             Num(right) + "\" y2=\"" + Num(py) +
             "\" stroke=\"#dddddd\" stroke-width=\"1\"/>\n";
    AddText(left - 7, py + 4, FormatTick(v), 11, "end", false, "#444");
  }
  body_ += "<rect x=\"" + Num(left) + "\" y=\"" + Num(top) + "\" width=\"" +
           Num(pw) + "\" height=\"" + Num(ph) +
           "\" fill=\"none\" stroke=\"#888888\" stroke-width=\"1\"/>\n";
  AddText((left + right) / 2, bottom + 36, chart.x.label, 12, "middle");
  body_ += "<text transform=\"translate(" + Num(x + 16) + "," +
           Num((top + bottom) / 2) +
           ") rotate(-90)\" font-size=\"12\" text-anchor=\"middle\" "
           "fill=\"#222\">" +
           Escape(chart.y.label) + "</text>\n";

  // Series, clipped to the plot area (widened so edge markers show whole).
  const std::string clip = "clip" + std::to_string(next_clip_id_++);
  body_ += "<clipPath id=\"" + clip + "\"><rect x=\"" + Num(left - 7) +
           "\" y=\"" + Num(top - 7) + "\" width=\"" + Num(pw + 14) +
           "\" height=\"" + Num(ph + 14) + "\"/></clipPath>\n";
  body_ += "<g clip-path=\"url(#" + clip + ")\">\n";
  for (const Series& s : chart.series) {
    std::vector<std::pair<double, double>> pts;
    std::vector<std::string> labels;
    for (size_t i = 0; i < s.points.size(); ++i) {
      const auto& [px, py] = s.points[i];
      if (!Usable(px, chart.x.scale) || !Usable(py, chart.y.scale)) continue;
      pts.push_back({sx(px), sy(py)});
      labels.push_back(i < s.point_labels.size() ? s.point_labels[i] : "");
    }
    if (pts.empty()) continue;
    if (pts.size() > 1) {
      body_ += "<polyline points=\"";
      for (const auto& [px, py] : pts) body_ += Num(px) + "," + Num(py) + " ";
      body_ += "\"" + StrokeAttrs(s.style) + "/>\n";
    }
    for (size_t i = 0; i < pts.size(); ++i) {
      DrawMarker(&body_, s.style.marker, pts[i].first, pts[i].second, s.style);
      if (!labels[i].empty()) {  // left of the point near the right edge
        const bool flip = pts[i].first > right - 70;
        body_ += "<text x=\"" + Num(pts[i].first + (flip ? -7 : 7)) +
                 "\" y=\"" + Num(pts[i].second - 7) +
                 "\" font-size=\"10\" text-anchor=\"" +
                 (flip ? "end" : "start") + "\" fill=\"" + s.style.color +
                 "\" stroke=\"white\" stroke-width=\"3\" "
                 "paint-order=\"stroke\">" +
                 Escape(labels[i]) + "</text>\n";
      }
    }
    body_ += "\n";
  }
  body_ += "</g>\n</g>\n";
}

double Document::LegendHeight(size_t entries, int columns) {
  if (entries == 0) return 0;
  columns = std::max(1, columns);
  return static_cast<double>((entries + columns - 1) / columns) * 19 + 4;
}

double Document::AddLegend(const std::vector<LegendEntry>& entries, double x,
                           double y, double w, int columns) {
  columns = std::max(1, columns);
  const double colw = w / columns;
  for (size_t i = 0; i < entries.size(); ++i) {
    const double ex = x + (i % columns) * colw;
    const double ey = y + (i / columns) * 19 + 12;
    const Style& st = entries[i].style;
    if (entries[i].name.empty()) continue;
    body_ += "<line x1=\"" + Num(ex) + "\" y1=\"" + Num(ey - 4) + "\" x2=\"" +
             Num(ex + 30) + "\" y2=\"" + Num(ey - 4) + "\"" + StrokeAttrs(st) +
             "/>\n";
    DrawMarker(&body_, st.marker, ex + 15, ey - 4, st);
    AddText(ex + 37, ey, entries[i].name, 12);
  }
  return LegendHeight(entries.size(), columns);
}

std::string Document::ToString() const {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(width_) +
         "\" height=\"" + Num(height_) + "\" viewBox=\"0 0 " + Num(width_) +
         " " + Num(height_) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
         "<rect x=\"0\" y=\"0\" width=\"" +
         Num(width_) + "\" height=\"" + Num(height_) + "\" fill=\"white\"/>\n" +
         body_ + "</svg>\n";
}

}  // namespace svg
}  // namespace tqdb
