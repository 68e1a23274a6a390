#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/report_markdown.h"

namespace tqdb {

std::string Verdict(const std::vector<DataResult>& all, const Plan& plan) {
  std::vector<std::vector<std::string>> rows;
  int settings = 0, tq_wins1 = 0, tq_wins4 = 0, pca_best = 0;
  double best_win = -1, worst_loss = 1;
  std::string best_win_at, worst_loss_at;
  int prod_below_mse = 0, prod_cmp = 0;
  for (const DataResult& dr : all) {
    for (const char* layout : {"flat", "ivf"}) {
      for (uint32_t b : plan.bits) {
        const RecallResult *tq = nullptr, *pq = nullptr, *pca = nullptr;
        const RecallResult* other_best = nullptr;
        for (const RecallResult& r : dr.recs) {
          if (r.experiment != "main" || r.layout != layout || r.bits != b) {
            continue;
          }
          if (IsTurbo(r.method) && (!tq || r.r[0] > tq->r[0])) tq = &r;
          if (IsPq(r.method) && (!pq || r.r[0] > pq->r[0])) pq = &r;
          if (r.method == "pca") pca = &r;
          if (r.method != "pca" && (!other_best || r.r[0] > other_best->r[0])) {
            other_best = &r;
          }
        }
        const RecallResult* mse = Find(dr.recs, "main", layout, "mse", b);
        const RecallResult* prod = Find(dr.recs, "main", layout, "prod", b);
        if (mse && prod) {
          ++prod_cmp;
          if (prod->r[0] < mse->r[0]) ++prod_below_mse;
        }
        if (!tq || !pq) continue;
        ++settings;
        const double d1 = tq->r[0] - pq->r[0];
        const RecallResult* pq4 = pq;
        for (const RecallResult& r : dr.recs) {  // best PQ at k = 4
          if (r.experiment == "main" && r.layout == layout && r.bits == b &&
              IsPq(r.method) && r.r[2] > pq4->r[2]) {
            pq4 = &r;
          }
        }
        const RecallResult* tq4 = tq;
        for (const RecallResult& r : dr.recs) {
          if (r.experiment == "main" && r.layout == layout && r.bits == b &&
              IsTurbo(r.method) && r.r[2] > tq4->r[2]) {
            tq4 = &r;
          }
        }
        const double d4 = tq4->r[2] - pq4->r[2];
        if (d1 > 0) ++tq_wins1;
        if (d4 > 0) ++tq_wins4;
        const std::string where =
            absl::StrFormat("%s %s %u bits", dr.data->spec->name, layout, b);
        if (d1 > best_win) {
          best_win = d1;
          best_win_at = where;
        }
        if (d1 < worst_loss) {
          worst_loss = d1;
          worst_loss_at = where;
        }
        const bool pca_wins = pca && other_best && pca->r[0] > other_best->r[0];
        if (pca_wins) ++pca_best;
        rows.push_back({dr.data->spec->name, layout, absl::StrCat(b),
                        absl::StrFormat("%s (%zu B) %.3f", tq->method,
                                        tq->bytes, tq->r[0]),
                        absl::StrFormat("%s (%zu B) %.3f", Display(pq->method),
                                        pq->bytes, pq->r[0]),
                        SignedPoints(d1), SignedPoints(d4),
                        pca ? absl::StrFormat("%.3f%s", pca->r[0],
                                              pca_wins ? " **best**" : "")
                            : "-"});
      }
    }
  }
  std::string s =
      MdTable({"data", "layout", "bits", "best TurboQuant: R@1@1",
               "best PQ (ours or FAISS): R@1@1", "TQ - PQ at k=1 (points)",
               "TQ - PQ at k=4 (points)", "pca (ours) R@1@1"},
              rows);
  absl::StrAppend(
      &s,
      absl::StrFormat(
          "- Over %d settings (data set x layout x bits), the best TurboQuant "
          "variant (mse, prod or renorm) has the higher recall@1@1 than the "
          "best PQ in %d and the higher recall@1@4 in %d (ties count as "
          "losses).\n",
          settings, tq_wins1, tq_wins4));
  absl::StrAppend(
      &s, tq_wins1 == settings
              ? "- The paper's claim that TurboQuant consistently outperforms "
                "PQ at equal bits holds in every setting measured here.\n"
              : absl::StrFormat(
                    "- The paper's claim that TurboQuant consistently "
                    "outperforms PQ at equal bits does **not** reproduce: PQ "
                    "(ours or FAISS) has the equal or higher recall@1@1 in %d "
                    "of %d settings.\n",
                    settings - tq_wins1, settings));
  if (settings > 0) {
    absl::StrAppend(
        &s, absl::StrFormat("- Largest TurboQuant lead at k=1: %s points (%s); "
                            "largest deficit: %s points (%s).\n",
                            SignedPoints(best_win), best_win_at,
                            SignedPoints(worst_loss), worst_loss_at));
  }
  absl::StrAppend(
      &s, absl::StrFormat(
              "- The sign sketch (prod) has lower recall@1@1 than mse at the "
              "same bits in %d of %d settings.\n",
              prod_below_mse, prod_cmp));
  absl::StrAppend(
      &s, absl::StrFormat("- Our pca variant has the highest recall@1@1 of all "
                          "methods in %d of %d settings.\n",
                          pca_best, settings));
  return s;
}

}  // namespace tqdb
