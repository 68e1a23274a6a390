// The recall report's SVG charts (internal to tools/bench/report*.cc), one
// document each: recall@1@k per data set, the ablations, the inner-product
// error and the codebooks' D_mse.
#ifndef TQDB_TOOLS_BENCH_REPORT_CHARTS_H_
#define TQDB_TOOLS_BENCH_REPORT_CHARTS_H_

#include <string>
#include <vector>

#include "tools/bench/report_data.h"
#include "tools/bench/report_measure.h"

namespace tqdb {

// recall_<data set>.svg: recall@1@k against k, flat and IVF, per bit width.
std::string RecallSvg(const DataResult& dr, const Plan& plan);
// ablations_<data set>.svg: sign sketch, centring, sketch matrix.
std::string AblationSvg(const DataResult& dr, const Plan& plan);
// iperror_<data set>.svg: bias and spread per bucket of the inner product.
std::string IpErrorSvg(const DataResult& dr);
// codebook.svg: D_mse of the Gaussian over the exact-Beta codebook, by d.
std::string CodebookSvg(const std::vector<DmseResult>& rows);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_REPORT_CHARTS_H_
