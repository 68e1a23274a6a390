#include "tools/bench/report_charts.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/colors.h"
#include "tools/bench/svg.h"

namespace tqdb {
namespace {

svg::Style MethodStyle(const std::string& m, size_t index) {
  static const std::map<std::string, svg::Marker> kMarkers = {
      {"mse", svg::Marker::kCircle},
      {"prod", svg::Marker::kTriangle},
      {"renorm", svg::Marker::kSquare},
      {"pca", svg::Marker::kDiamond},
      {"pq", svg::Marker::kCross},
      {kFaissLut, svg::Marker::kSquare},
      {kFaissFs, svg::Marker::kTriangle},
      {"prod-gaussian", svg::Marker::kTriangle}};
  svg::Style st;
  st.color = FamilyColor(m, index);
  auto it = kMarkers.find(m);
  st.marker = it == kMarkers.end() ? svg::Marker::kCircle : it->second;
  if (m == "pca" || m == "pq") st.dash = "7,4";  // ours: dashed
  if (m == kFaissLut || m == kFaissFs || m == "prod-gaussian") {
    st.hollow = true;
  }
  return st;
}

// A grid of charts with a legend underneath.
std::string ChartGrid(const std::string& title, const std::string& subtitle,
                      const std::vector<svg::Chart>& charts, int columns,
                      const std::vector<svg::LegendEntry>& legend,
                      int legend_columns) {
  const double cw = 440, ch = 340, top = 58;
  const int rows =
      static_cast<int>((charts.size() + columns - 1) / std::max(1, columns));
  const double width = std::max(900.0, cw * columns + 20);
  legend_columns = std::max(
      1, std::min(legend_columns, static_cast<int>((width - 60) / 290)));
  const double legend_h =
      svg::Document::LegendHeight(legend.size(), legend_columns);
  svg::Document doc(width, top + rows * ch + 14 + legend_h + 10);
  doc.AddText(width / 2, 24, title, 17, "middle", true);
  doc.AddText(width / 2, 44, subtitle, 12, "middle", false, "#555");
  for (size_t i = 0; i < charts.size(); ++i) {
    doc.AddChart(charts[i], 10 + cw * (i % columns), top + ch * (i / columns),
                 cw, ch);
  }
  doc.AddLegend(legend, 40, top + rows * ch + 10, width - 60, legend_columns);
  return doc.ToString();
}

}  // namespace

std::string RecallSvg(const DataResult& dr, const Plan& plan) {
  const Data& data = *dr.data;
  std::vector<svg::Chart> charts;
  const std::vector<std::string> methods = MainMethods();
  for (const char* layout : {"flat", "ivf"}) {
    for (uint32_t b : plan.bits) {
      svg::Chart c;
      c.title = absl::StrFormat(
          "%s, %u bits/dim",
          std::string(layout) == "flat"
              ? "flat (no IVF)"
              : absl::StrFormat("IVF nlist %u, all probed", dr.nlist_ivf),
          b);
      c.x = {"k (log2)", svg::Scale::kLog2, 1, 64};
      c.y = {"recall@1@k", svg::Scale::kLinear, NAN, 1.0};
      for (size_t i = 0; i < methods.size(); ++i) {
        const RecallResult* r = Find(dr.recs, "main", layout, methods[i], b);
        if (!r) continue;
        svg::Series se;
        se.style = MethodStyle(methods[i], i);
        for (int j = 0; j < kNumAt; ++j) se.points.push_back({1 << j, r->r[j]});
        c.series.push_back(se);
      }
      charts.push_back(c);
    }
  }
  std::vector<svg::LegendEntry> legend;
  for (size_t i = 0; i < methods.size(); ++i) {
    // Bytes at the largest bit width, as a reminder of equal bytes.
    std::string bytes;
    for (uint32_t b : plan.bits) {
      const RecallResult* r = Find(dr.recs, "main", "flat", methods[i], b);
      if (r) absl::StrAppend(&bytes, bytes.empty() ? "" : "/", r->bytes);
    }
    legend.push_back({absl::StrCat(Display(methods[i]), " (", bytes, " B)"),
                      MethodStyle(methods[i], i)});
  }
  return ChartGrid(
      absl::StrFormat("Recall@1@k, %s (%s)", data.spec->name,
                      MetricName(data.spec->metric)),
      absl::StrFormat("n=%zu d=%zu queries=%zu; equal bytes per vector "
                      "(codes + factors); no rescoring; 1 thread",
                      data.n, data.d, data.nq),
      charts, static_cast<int>(plan.bits.size()), legend, 4);
}

std::string AblationSvg(const DataResult& dr, const Plan& plan) {
  const Data& data = *dr.data;
  struct Line {
    std::string experiment, layout, method, name;
    int bits_offset;  // recall at bits + offset, plotted at bits
    svg::Style style;
  };
  auto st = [](const std::string& color, svg::Marker m, bool dashed) {
    svg::Style s;
    s.color = color;
    s.marker = m;
    if (dashed) s.dash = "7,4";
    return s;
  };
  const std::string c_mse = FamilyColor("mse", 0),
                    c_prod = FamilyColor("prod", 0),
                    c_ren = FamilyColor("renorm", 0);
  const std::vector<std::vector<Line>> panels = {
      {{"main", "flat", "mse", "flat: mse b bits", 0,
        st(c_mse, svg::Marker::kCircle, false)},
       {"main", "flat", "prod", "flat: prod b bits ((b-1) mse + sketch)", 0,
        st(c_prod, svg::Marker::kTriangle, false)},
       {"any", "flat", "mse", "flat: mse b-1 bits (no sketch)", -1,
        st("#7f7f7f", svg::Marker::kCircle, false)},
       {"main", "ivf", "mse", "IVF: mse b bits", 0,
        st(c_mse, svg::Marker::kCircle, true)},
       {"main", "ivf", "prod", "IVF: prod b bits", 0,
        st(c_prod, svg::Marker::kTriangle, true)}},
      {{"main", "flat", "mse", "mse flat raw", 0,
        st(c_mse, svg::Marker::kCircle, false)},
       {"centring", "flat", "mse", "mse flat centred (mean)", 0,
        st(c_mse, svg::Marker::kSquare, true)},
       {"main", "ivf", "mse", "mse IVF residual", 0,
        st(c_mse, svg::Marker::kDiamond, false)},
       {"main", "flat", "renorm", "renorm flat raw", 0,
        st(c_ren, svg::Marker::kCircle, false)},
       {"centring", "flat", "renorm", "renorm flat centred (mean)", 0,
        st(c_ren, svg::Marker::kSquare, true)},
       {"main", "ivf", "renorm", "renorm IVF residual", 0,
        st(c_ren, svg::Marker::kDiamond, false)}},
      {{"main", "flat", "prod", "prod flat, structured S", 0,
        st(c_prod, svg::Marker::kTriangle, false)},
       {"sketch", "flat", "prod", "prod flat, Gaussian S", 0,
        st("#bcbd22", svg::Marker::kTriangle, false)},
       {"main", "ivf", "prod", "prod IVF, structured S", 0,
        st(c_prod, svg::Marker::kSquare, true)},
       {"sketch", "ivf", "prod", "prod IVF, Gaussian S", 0,
        st("#bcbd22", svg::Marker::kSquare, true)}},
  };
  const char* titles[] = {"(a) sign sketch: recall@1@1",
                          "(b) centring: recall@1@1",
                          "(c) sketch matrix: recall@1@1"};
  std::vector<svg::Chart> charts;
  std::vector<svg::LegendEntry> legend;
  for (size_t p = 0; p < panels.size(); ++p) {
    svg::Chart c;
    c.title = titles[p];
    c.x = {"bits per dimension", svg::Scale::kLinear, plan.bits.front() - 0.5,
           plan.bits.back() + 0.5};
    c.y = {"recall@1@1", svg::Scale::kLinear, NAN, NAN};
    for (const Line& l : panels[p]) {
      svg::Series se;
      se.style = l.style;
      for (uint32_t b : plan.bits) {
        const int bb = static_cast<int>(b) + l.bits_offset;
        if (bb < 1) continue;
        const RecallResult* r = nullptr;
        if (l.experiment == "any") {
          r = Find(dr.recs, "main", l.layout, l.method, bb);
          if (!r) r = Find(dr.recs, "sketch-off", l.layout, l.method, bb);
        } else {
          r = Find(dr.recs, l.experiment, l.layout, l.method, bb);
        }
        if (r) se.points.push_back({double(b), r->r[0]});
      }
      c.series.push_back(se);
    }
    charts.push_back(c);
  }
  // Legend: one column per panel, under its chart.
  size_t rows = 0;
  for (const auto& p : panels) rows = std::max(rows, p.size());
  for (size_t r = 0; r < rows; ++r) {
    for (const auto& p : panels) {
      legend.push_back(r < p.size() ? svg::LegendEntry{p[r].name, p[r].style}
                                    : svg::LegendEntry{});
    }
  }
  return ChartGrid(
      absl::StrFormat("Ablations, %s", data.spec->name),
      absl::StrFormat("n=%zu d=%zu queries=%zu; recall@1@1, no rescoring",
                      data.n, data.d, data.nq),
      charts, 3, legend, 3);
}

std::string IpErrorSvg(const DataResult& dr) {
  const Data& data = *dr.data;
  std::vector<uint32_t> bits;
  for (const IpErrorResult& e : dr.iperr) {
    if (std::find(bits.begin(), bits.end(), e.bits) == bits.end()) {
      bits.push_back(e.bits);
    }
  }
  std::vector<svg::Chart> charts;
  std::vector<std::string> methods;
  for (const IpErrorResult& e : dr.iperr) {
    if (std::find(methods.begin(), methods.end(), e.method) == methods.end()) {
      methods.push_back(e.method);
    }
  }
  for (int what = 0; what < 2; ++what) {
    for (uint32_t b : bits) {
      svg::Chart c;
      c.title = absl::StrFormat("%s of the estimate, %u bits/dim",
                                what == 0 ? "mean error (bias)" : "std", b);
      c.x = {"true inner product (bucket centre)", svg::Scale::kLinear, NAN,
             NAN};
      c.y = {what == 0 ? "estimate - truth, mean" : "estimate - truth, std",
             svg::Scale::kLinear, what == 0 ? NAN : 0.0, NAN};
      for (size_t i = 0; i < methods.size(); ++i) {
        for (const IpErrorResult& e : dr.iperr) {
          if (e.bits != b || e.method != methods[i]) continue;
          svg::Series se;
          se.style = MethodStyle(methods[i], i);
          for (int k = 0; k < kIpBuckets; ++k) {
            if (e.count[k] < 20) continue;  // too few pairs to show
            se.points.push_back(
                {(e.lo[k] + e.hi[k]) / 2, what == 0 ? e.bias[k] : e.sd[k]});
          }
          c.series.push_back(se);
        }
      }
      charts.push_back(c);
    }
  }
  std::vector<svg::LegendEntry> legend;
  for (size_t i = 0; i < methods.size(); ++i) {
    legend.push_back({Display(methods[i]), MethodStyle(methods[i], i)});
  }
  return ChartGrid(
      absl::StrFormat("Inner-product error, %s, flat, raw vectors",
                      data.spec->name),
      "pairs: each query with its true top-100 and random base vectors; "
      "buckets with < 20 pairs not drawn",
      charts, static_cast<int>(bits.size()), legend, 5);
}

std::string CodebookSvg(const std::vector<DmseResult>& rows) {
  svg::Chart c;
  c.title = "D_mse, Gaussian codebook / exact-Beta codebook (random unit x)";
  c.x = {"dimension d (log2)", svg::Scale::kLog2, NAN, NAN};
  c.y = {"ratio of measured D_mse", svg::Scale::kLinear, NAN, NAN};
  std::vector<svg::LegendEntry> legend;
  const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};
  for (uint32_t b = 1; b <= 4; ++b) {
    svg::Series se;
    se.style.color = colors[b - 1];
    for (const DmseResult& r : rows) {
      if (r.source == "random" && r.bits == b && r.exact > 0) {
        se.points.push_back({double(r.d), r.gaussian / r.exact});
      }
    }
    if (se.points.empty()) continue;
    legend.push_back({absl::StrCat(b, " bits"), se.style});
    c.series.push_back(se);
  }
  return ChartGrid("Ablation (d): exact-Beta vs Gaussian Lloyd-Max codebook",
                   "TurboQuant mse, unit vectors; > 1 means the Gaussian "
                   "codebook has more distortion",
                   {c}, 1, legend, 4);
}

// Verdict rows and sentences from the main experiment.

}  // namespace tqdb
