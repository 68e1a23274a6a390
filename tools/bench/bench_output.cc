#include "tools/bench/bench_output.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/colors.h"
#include "tools/bench/json_line.h"
#include "tools/bench/svg.h"

namespace tqdb {
namespace {

std::string FamilyOf(const std::string& method) {
  // FAISS's refined FastScan is FastScan with rescoring.
  if (method == "faiss-ivfpqfs-refine") return "faiss-ivfpqfs";
  return method;
}

}  // namespace

std::string JsonLine(const BenchSetup& s, const BenchRow& r) {
  const std::string at = RecallAtJson(r.recall1_at);
  return absl::StrFormat(
      "{\"label\":\"%s\",\"metric\":\"%s\",\"n\":%zu,\"d\":%zu,\"nq\":%zu,"
      "\"method\":\"%s\",\"bits_per_dim\":%u,\"bytes_per_vector\":%zu,"
      "\"nlist\":%u,\"nprobe\":%u,\"rescore\":%g,\"threads\":%u,"
      "\"batch\":%u,\"k\":%u,"
      "\"recall1_at\":{%s},\"recall10_at10\":%.4f,\"qps\":%.1f,"
      "\"rounds\":%u,\"qps_min\":%.1f,\"qps_max\":%.1f,"
      "\"ms_per_query\":%.4f,\"build_s\":%.3f,\"codec\":\"%s\","
      "\"layout\":\"%s\",\"memory_bytes_per_code\":%zu,"
      "\"codes_per_query\":%.1f,\"refined_share\":%.5f,\"prefix_bits\":%.3f,"
      "\"refine\":\"%s\","
      "\"refine_bytes_per_vector\":%zu,\"coarse\":\"%s\","
      "\"centroids_exact_per_query\":%.1f,\"bytes_per_query\":%.0f,"
      "\"read_gbps\":%.3f,\"mem_gbps\":%.2f,\"simd\":\"%s\","
      "\"probe_sigmas\":%g,\"lists_per_query\":%.2f}\n",
      JsonEscape(s.label), s.metric, s.n, s.d, s.nq, JsonEscape(r.method),
      r.bits, r.bytes_per_vector, r.nlist, r.nprobe, r.rescore, s.threads,
      s.batch, r.k, at, r.recall10, r.qps, std::max<uint32_t>(r.rounds, 1),
      r.rounds > 1 ? r.qps_min : r.qps, r.rounds > 1 ? r.qps_max : r.qps,
      r.ms_per_query, r.build_s, JsonEscape(r.codec), r.layout,
      r.memory_bytes_per_code, r.codes_per_query, r.refined_share,
      r.prefix_bits, r.refine, r.refine_bytes_per_vector, r.coarse,
      r.centroids_exact_per_query, r.bytes_per_query,
      r.bytes_per_query * r.qps / 1e9, s.mem_gbps,
      r.simd.empty() ? s.simd : r.simd, r.probe_sigmas, r.lists_per_query);
}

void PrintHeader(std::ostream& out) {
  out << absl::StrFormat(
      "%-20s %4s %5s %5s %5s %5s %6s %7s %6s %6s %6s %7s %9s %7s %7s %7s %5s "
      "%7s\n",
      "method", "bits", "bytes", "scan", "mem B", "nlist", "nprobe", "rescore",
      "R@1@1", "R@1@4", "R@1@16", "10-R@10", "qps", "codes/q", "refined",
      "KB/q", "GB/s", "build s");
}

void PrintRow(std::ostream& out, const BenchSetup& s, const BenchRow& r) {
  const bool tq = !r.layout.empty();  // tqdb's rows (not FAISS's)
  // 10-R@10 to four digits: at three, 0.9499 printed as 0.950 and passed
  // for a setting at 0.95 (README, 2026-12-05 correction).
  out << absl::StrFormat(
      "%-20s %4u %5zu %5s %5s %5u %6u %7s %6.3f %6.3f %6.3f %7.4f %9.1f %7s "
      "%7s %7s %5s %7.2f",
      r.method, r.bits, r.bytes_per_vector,
      !tq ? std::string("-")
          : absl::StrCat(r.layout == "full"
                             ? std::string("full")
                             : absl::StrFormat("%s%.3g",
                                               r.layout == "shared" ? "s" : "p",
                                               r.prefix_bits),
                         r.coarse == "exact" ? "" : "+c8"),
      tq ? absl::StrCat(r.memory_bytes_per_code) : std::string("-"), r.nlist,
      r.nprobe,
      r.rescore > 0
          ? absl::StrCat(absl::StrFormat("x%g", r.rescore),
                         r.refine == "none" ? "" : absl::StrCat(":", r.refine))
          : std::string("-"),
      r.recall1_at[0], r.recall1_at[2], r.recall1_at[4], r.recall10, r.qps,
      tq ? absl::StrFormat("%.0f", r.codes_per_query) : std::string("-"),
      tq && r.layout != "full"
          ? absl::StrFormat("%.2f%%", 100 * r.refined_share)
          : std::string("-"),
      tq ? absl::StrFormat("%.1f", r.bytes_per_query / 1e3) : std::string("-"),
      tq ? absl::StrFormat("%.2f", r.bytes_per_query * r.qps / 1e9)
         : std::string("-"),
      r.build_s);
  // The target chosen by --simd, then the spread of timed rounds, after
  // the row's last column.
  if (!r.simd.empty()) out << " " << r.simd;
  // Adaptive probing: its setting and the lists scanned of nprobe.
  if (r.probe_sigmas > 0) {
    out << absl::StrFormat(" ps%g:%.1f", r.probe_sigmas, r.lists_per_query);
  }
  if (r.rounds > 1)
    out << absl::StrFormat(" [%.1f-%.1f]", r.qps_min, r.qps_max);
  out << "\n";
  if (r.nlist == 1) {
    const double codes = static_cast<double>(s.n) * r.qps;
    out << absl::StrFormat(
        "%-20s scan rate: %.1f M codes/s, %.2f GB/s of codes (memory read "
        "%.1f GB/s)\n",
        "", codes / 1e6, codes * r.bytes_per_vector / 1e9, s.mem_gbps);
  }
  out.flush();
}

std::string BenchSvg(const BenchSetup& s, uint32_t nlist,
                     const std::vector<BenchRow>& rows) {
  // Families (method colours) and bit widths (shade and marker), in order.
  std::vector<std::string> families;
  std::set<uint32_t> bitset;
  std::set<double> rescores;
  for (const BenchRow& r : rows) {
    const std::string f = FamilyOf(r.method);
    if (std::find(families.begin(), families.end(), f) == families.end()) {
      families.push_back(f);
    }
    bitset.insert(r.bits);
    if (r.rescore > 0) rescores.insert(r.rescore);
  }
  const std::vector<uint32_t> bits(bitset.begin(), bitset.end());
  const std::vector<double> rs(rescores.begin(), rescores.end());
  static const svg::Marker kMarkers[] = {
      svg::Marker::kCircle, svg::Marker::kSquare, svg::Marker::kTriangle,
      svg::Marker::kDiamond, svg::Marker::kCross};
  static const char* kDashes[] = {"7,4", "2,3", "10,3,2,3", "4,6"};
  auto style = [&](const std::string& family, uint32_t b, double rescore) {
    svg::Style st;
    const size_t fi =
        std::find(families.begin(), families.end(), family) - families.begin();
    const size_t bi = std::find(bits.begin(), bits.end(), b) - bits.begin();
    const double light =
        bits.size() > 1 ? 0.5 * (bits.size() - 1 - bi) / (bits.size() - 1) : 0;
    st.color = svg::Lighten(FamilyColor(family, fi), light);
    st.marker = kMarkers[bi % 5];
    if (rescore > 0) {
      const size_t ri = std::find(rs.begin(), rs.end(), rescore) - rs.begin();
      st.dash = kDashes[ri % 4];
      st.hollow = true;
    }
    return st;
  };

  // Chart 1: recall10_at10 against QPS, one curve per family, bits, rescore.
  svg::Chart c1;
  c1.title = "Recall 10@10 vs queries/s (points: nprobe sweep)";
  c1.x = {absl::StrFormat("queries per second, %u thread%s (log scale)",
                          s.threads, s.threads == 1 ? "" : "s"),
          svg::Scale::kLog10};
  c1.y = {"10-recall@10", svg::Scale::kLinear, NAN, 1.0};
  std::map<std::tuple<size_t, uint32_t, double>, size_t> curve;
  // Legend grid: one column per family, one row per bit width.
  std::map<std::pair<size_t, uint32_t>, svg::LegendEntry> cells;
  for (const BenchRow& r : rows) {
    const std::string f = FamilyOf(r.method);
    const size_t fi =
        std::find(families.begin(), families.end(), f) - families.begin();
    auto key = std::make_tuple(fi, r.bits, r.rescore);
    auto it = curve.find(key);
    if (it == curve.end()) {
      it = curve.emplace(key, c1.series.size()).first;
      svg::Series se;
      se.style = style(f, r.bits, r.rescore);
      c1.series.push_back(se);
    }
    c1.series[it->second].points.push_back({r.qps, r.recall10});
    c1.series[it->second].point_labels.push_back(
        absl::StrFormat("nprobe %u", r.nprobe));
    if (!cells.count({fi, r.bits}) && r.rescore == 0) {
      cells[{fi, r.bits}] = {
          absl::StrFormat("%s %u-bit, %zu B", f, r.bits, r.bytes_per_vector),
          style(f, r.bits, 0)};
    }
  }
  // nprobe labels on one curve only (the first family at its most bits,
  // without rescoring), to keep the chart legible.
  size_t labelled = c1.series.size();
  for (const auto& [key, index] : curve) {
    if (std::get<0>(key) == 0 && std::get<2>(key) == 0) labelled = index;
  }
  for (size_t i = 0; i < c1.series.size(); ++i) {
    if (i != labelled) c1.series[i].point_labels.clear();
  }
  // Chart 2: recall@1@k against k at each curve's largest nprobe without
  // rescoring.
  svg::Chart c2;
  c2.x = {"k (results returned, log2 scale)", svg::Scale::kLog2, 1, 64};
  c2.y = {"1-recall@k: true nearest among the first k", svg::Scale::kLinear,
          NAN, 1.0};
  std::map<std::pair<size_t, uint32_t>, const BenchRow*> best;
  for (const BenchRow& r : rows) {
    if (r.rescore > 0) continue;
    const std::string f = FamilyOf(r.method);
    const size_t fi =
        std::find(families.begin(), families.end(), f) - families.begin();
    const BenchRow*& b = best[{fi, r.bits}];
    if (!b || r.nprobe >= b->nprobe) b = &r;
  }
  std::set<uint32_t> nprobes;
  for (const auto& [key, r] : best) {
    svg::Series se;
    se.style = style(families[key.first], key.second, 0);
    for (int j = 0; j < kNumAt; ++j) {
      se.points.push_back({double(1 << j), r->recall1_at[j]});
    }
    c2.series.push_back(se);
    nprobes.insert(r->nprobe);
  }
  c2.title = nprobes.size() == 1
                 ? absl::StrFormat("Recall 1@k at nprobe %u, no rescore",
                                   *nprobes.begin())
                 : std::string("Recall 1@k at the largest nprobe, no rescore");

  const int columns = static_cast<int>(std::max<size_t>(1, families.size()));
  std::vector<svg::LegendEntry> legend;
  for (uint32_t b : bits) {
    for (size_t fi = 0; fi < families.size(); ++fi) {
      auto it = cells.find({fi, b});
      legend.push_back(it != cells.end() ? it->second : svg::LegendEntry{});
    }
  }
  // Line styles of rescoring, on a row of their own (the grid above is
  // full rows).
  if (!rs.empty()) {
    svg::Style solid;
    solid.color = "#666666";
    solid.marker = svg::Marker::kNone;
    std::vector<svg::LegendEntry> extra = {{"solid: no rescore", solid}};
    for (size_t i = 0; i < rs.size(); ++i) {
      svg::Style st = solid;
      st.dash = kDashes[i % 4];
      st.marker = svg::Marker::kCircle;
      st.hollow = true;
      extra.push_back(
          {absl::StrFormat("dashed: rescore / refine x%g", rs[i]), st});
    }
    legend.insert(legend.end(), extra.begin(), extra.end());
  }

  const double width = std::max(1300.0, 90.0 + 215.0 * columns);
  const double chart_w = width / 2, chart_h = 460, top = 58;
  const double legend_h = svg::Document::LegendHeight(legend.size(), columns);
  svg::Document doc(width, top + chart_h + 14 + legend_h + 10);
  doc.AddText(width / 2, 24, absl::StrFormat("tqdb bench: %s", s.label), 17,
              "middle", true);
  doc.AddText(
      width / 2, 44,
      absl::StrFormat("n=%zu  d=%zu  queries=%zu  metric %s  nlist %u  "
                      "threads %u  SIMD %s",
                      s.n, s.d, s.nq, s.metric, nlist, s.threads, s.simd),
      12, "middle", false, "#555");
  doc.AddChart(c1, 0, top, chart_w, chart_h);
  doc.AddChart(c2, chart_w, top, chart_w, chart_h);
  doc.AddLegend(legend, 70, top + chart_h + 10, width - 90, columns);
  return doc.ToString();
}

}  // namespace tqdb
