// tqdb scroll: the points of a collection in id order (or in the order of
// a numeric payload field), page by page, optionally only those matching a
// filter.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "db/datetime.h"
#include "tools/cli/backend.h"
#include "tools/cli/client.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

namespace tqdb {
namespace {

constexpr char kScrollCommand[] = "scroll";

constexpr char kScrollUsage[] =
    "usage: tqdb scroll --collection C (--server HOST:PORT | --data DIR) "
    "[flags]\n"
    "\n"
    "The points of a collection in id order, one page (--limit points from\n"
    "--offset), or every page with --all; with --order-by in the order of a\n"
    "numeric payload field's values, then ids.\n"
    "\n"
    "flags:\n"
    "%s"
    "  --collection C         the collection (required)\n"
    "%s"
    "  --limit N              points per page (default 10)\n"
    "  --offset ID            first id of the page (default 0); a page ends\n"
    "                         with the offset of the next one\n"
    "  --all                  every page, to the end\n"
    "  --order-by FIELD       in the order of FIELD's values (an integer,\n"
    "                         float or datetime payload index; datetimes as\n"
    "                         microseconds since 1970), then ids; a point\n"
    "                         with several values once for each\n"
    "  --desc                 largest values first\n"
    "  --start-from V         the page's first value (a number, or an RFC\n"
    "                         3339 datetime); --offset is then the first id\n"
    "                         among the points at V\n"
    "  --with-vectors         print the vectors too\n"
    "  --no-payload           leave the payloads out\n"
    "%s"
    "  --json                 one JSON object a page: points [{id, payload,\n"
    "                         vector, order_value}], next_offset (null on\n"
    "                         the last), next_order_value;\n"
    "                         with --all one JSON object a point (JSON "
    "Lines)\n";

nlohmann::json PayloadJson(const std::string& payload) {
  if (payload.empty()) return nullptr;
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) return payload;  // stored before payloads were JSON
  return j;
}

nlohmann::json PointJson(const Record& r, bool vectors, bool ordered) {
  nlohmann::json p = {{"id", r.id}, {"payload", PayloadJson(r.payload)}};
  if (vectors && r.has_vector) p["vector"] = r.vector;
  if (ordered) p["order_value"] = r.order_value;
  return p;
}

}  // namespace

const FlagSpec& ScrollFlags() {
  static const FlagSpec* spec = new FlagSpec(TargetFlags().And(
      {{"collection", "filter", "limit", "offset", "order-by", "start-from",
        "payload-include", "payload-exclude"},
       {"all", "with-vectors", "no-payload", "json", "desc"}}));
  return *spec;
}

int RunScroll(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags =
      ParseCommandLine(kScrollCommand, args, ScrollFlags(),
                       absl::StrFormat(kScrollUsage, kTargetHelp, kFilterHelp,
                                       kPayloadSelectorHelp),
                       out, err, &exit_code);
  if (!flags) return exit_code;
  if (!flags->Has("collection")) {
    return UsageError(kScrollCommand, "--collection is required", err);
  }
  auto limit = flags->GetInt("limit", 10, 1, 100000);
  auto offset = flags->GetInt("offset", 0, 0, INT64_MAX);
  for (const absl::Status& s : {limit.status(), offset.status()}) {
    if (!s.ok()) return UsageError(kScrollCommand, s, err);
  }
  auto filter = FilterFromFlags(*flags);
  if (!filter.ok()) return UsageError(kScrollCommand, filter.status(), err);
  ScrollOptions o;
  o.filter = *filter;
  o.limit = static_cast<uint32_t>(*limit);
  o.offset = static_cast<uint64_t>(*offset);
  o.with_vectors = flags->Has("with-vectors");
  o.with_payload = !flags->Has("no-payload");
  auto selector = PayloadSelectorFromFlags(*flags);
  if (!selector.ok()) {
    return UsageError(kScrollCommand, selector.status(), err);
  }
  if (!o.with_payload && !selector->selects_all()) {
    return UsageError(kScrollCommand,
                      "--payload-include and --payload-exclude select parts "
                      "of the payloads --no-payload leaves out",
                      err);
  }
  if (flags->Has("order-by")) {
    o.order_by =
        OrderBy{flags->GetString("order-by"), flags->Has("desc"), std::nullopt};
    if (flags->Has("start-from")) {
      auto v = flags->GetDouble("start-from", 0);
      const std::optional<int64_t> micros =
          ParseDatetime(flags->GetString("start-from"));
      if (!v.ok() && !micros) {
        return UsageError(
            kScrollCommand,
            absl::StrCat(v.status().message(), ", nor an RFC 3339 datetime"),
            err);
      }
      o.order_by->start_from = v.ok() ? *v : static_cast<double>(*micros);
    } else if (flags->Has("offset")) {
      return UsageError(kScrollCommand,
                        "--offset with --order-by needs --start-from (a "
                        "page ends with both for the next one)",
                        err);
    }
  } else if (flags->Has("desc") || flags->Has("start-from")) {
    return UsageError(kScrollCommand,
                      "--desc and --start-from go with --order-by", err);
  }
  const bool ordered = o.order_by.has_value();
  const bool json = flags->Has("json"), all = flags->Has("all");
  auto backend = OpenBackend(*flags, false);
  if (!backend.ok()) return Fail(kScrollCommand, backend.status(), err);
  const std::string coll = flags->GetString("collection");
  bool header = false, noted = false;
  for (;;) {
    auto page = (*backend)->Scroll(coll, o);
    if (!page.ok()) return Fail(kScrollCommand, page.status(), err);
    for (Record& r : page->points) r.payload = selector->Apply(r.payload);
    if (!noted && !page->unindexed_fields.empty()) {
      err << "tqdb scroll: note: read from the payloads (no payload index): "
          << absl::StrJoin(page->unindexed_fields, ", ") << "\n";
      noted = true;
    }
    if (json && all) {
      for (const Record& r : page->points) {
        out << PointJson(r, o.with_vectors, ordered).dump() << "\n";
      }
    } else if (json) {
      nlohmann::json pts = nlohmann::json::array();
      for (const Record& r : page->points) {
        pts.push_back(PointJson(r, o.with_vectors, ordered));
      }
      nlohmann::json j = {
          {"collection", coll},
          {"points", pts},
          {"next_offset", page->has_next ? nlohmann::json(page->next_offset)
                                         : nlohmann::json()}};
      if (ordered) {
        j["next_order_value"] = page->has_next
                                    ? nlohmann::json(page->next_order_value)
                                    : nlohmann::json();
      }
      out << j.dump() << "\n";
    } else {
      if (!header) {
        out << (ordered ? absl::StrFormat("%14s  %20s  %s\n", "value", "id",
                                          "payload")
                        : absl::StrFormat("%20s  %s\n", "id", "payload"));
        header = true;
      }
      for (const Record& r : page->points) {
        std::string p = r.payload;
        if (p.size() > 100) p = p.substr(0, 97) + "...";
        if (ordered) out << absl::StrFormat("%14g  ", r.order_value);
        out << absl::StrFormat("%20d  %s\n", r.id, p);
        if (o.with_vectors && r.has_vector) {
          out << absl::StrFormat("%20s  [%s]\n", "",
                                 absl::StrJoin(r.vector, ", "));
        }
      }
      if (!all) {
        out << (!page->has_next ? std::string("(last page)")
                : ordered
                    ? absl::StrCat(
                          "next page: --start-from ",
                          absl::StrFormat("%.17g", page->next_order_value),
                          " --offset ", page->next_offset)
                    : absl::StrCat("next page: --offset ", page->next_offset))
            << "\n";
      }
    }
    if (!all || !page->has_next) break;
    o.offset = page->next_offset;
    if (ordered) o.order_by->start_from = page->next_order_value;
  }
  absl::Status closed = (*backend)->Close();
  return closed.ok() ? kExitOk : Fail(kScrollCommand, closed, err);
}

}  // namespace tqdb
