#include "rpc/http_routes.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "db/filter_json.h"
#include "db/formula_json.h"
#include "quant/status_macros.h"
#include "rpc/filter_convert.h"
#include "rpc/formula_search.h"

namespace tqdb {
namespace {

namespace gp = ::google::protobuf;

// The REST API. Path segments {x} fill request field x (see the header).
constexpr Route kRoutes[] = {
    {"GET", "/collections", "tqdb.v1.Collections/List"},
    {"PUT", "/collections/{name}", "tqdb.v1.Collections/Create"},
    {"GET", "/collections/{name}", "tqdb.v1.Collections/Get"},
    {"DELETE", "/collections/{name}", "tqdb.v1.Collections/Delete"},
    {"POST", "/collections/{name}/train", "tqdb.v1.Collections/Train"},
    {"PUT", "/collections/{collection}/points", "tqdb.v1.Points/Upsert"},
    {"POST", "/collections/{collection}/points", "tqdb.v1.Points/Get"},
    {"GET", "/collections/{collection}/points/{ids}", "tqdb.v1.Points/Get"},
    {"POST", "/collections/{collection}/points/delete",
     "tqdb.v1.Points/Delete"},
    {"PUT", "/collections/{collection}/points/vectors",
     "tqdb.v1.Points/UpdateVectors"},
    {"POST", "/collections/{collection}/points/count", "tqdb.v1.Points/Count"},
    {"POST", "/collections/{collection}/facet", "tqdb.v1.Points/Facet"},
    {"POST", "/collections/{collection}/points/search",
     "tqdb.v1.Points/Search"},
    {"POST", "/collections/{collection}/points/search/batch",
     "tqdb.v1.Points/SearchBatch"},
    {"POST", "/collections/{collection}/points/scroll",
     "tqdb.v1.Points/Scroll"},
    {"POST", "/collections/{collection}/points/payload",
     "tqdb.v1.Points/SetPayload"},
    {"PUT", "/collections/{collection}/points/payload",
     "tqdb.v1.Points/OverwritePayload"},
    {"POST", "/collections/{collection}/points/payload/delete",
     "tqdb.v1.Points/DeletePayloadKeys"},
    {"PUT", "/collections/{collection}/index",
     "tqdb.v1.Collections/CreateFieldIndex"},
    {"DELETE", "/collections/{collection}/index/{field}",
     "tqdb.v1.Collections/DeleteFieldIndex"},
    {"POST", "/aliases", "tqdb.v1.Collections/UpdateAliases"},
    {"GET", "/aliases", "tqdb.v1.Collections/ListAliases"},
    {"GET", "/collections/{collection}/aliases",
     "tqdb.v1.Collections/ListAliases"},
    {"POST", "/collections/{collection}/snapshots", "tqdb.v1.Snapshots/Create"},
    {"GET", "/collections/{collection}/snapshots", "tqdb.v1.Snapshots/List"},
    {"POST", "/snapshots", "tqdb.v1.Snapshots/Create"},
    {"GET", "/snapshots", "tqdb.v1.Snapshots/List"},
    {"DELETE", "/snapshots/{name}", "tqdb.v1.Snapshots/Delete"},
};

std::vector<absl::string_view> Segments(absl::string_view path) {
  return absl::StrSplit(path, '/', absl::SkipEmpty());
}

bool IsParam(absl::string_view seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

// Literal segments of `pattern` if it matches `path`, else -1.
int Specificity(absl::string_view pattern,
                const std::vector<absl::string_view>& path) {
  const std::vector<absl::string_view> p = Segments(pattern);
  if (p.size() != path.size()) return -1;
  int literal = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (IsParam(p[i])) continue;
    if (p[i] != path[i]) return -1;
    ++literal;
  }
  return literal;
}

const gp::MethodDescriptor* FindMethod(const Route& r) {
  // "tqdb.v1.Points/Search" -> "tqdb.v1.Points.Search".
  std::string full = r.rpc;
  std::replace(full.begin(), full.end(), '/', '.');
  return gp::DescriptorPool::generated_pool()->FindMethodByName(full);
}

std::unique_ptr<gp::Message> NewMessage(const gp::Descriptor* d) {
  const gp::Message* proto =
      gp::MessageFactory::generated_factory()->GetPrototype(d);
  return std::unique_ptr<gp::Message>(proto->New());
}

// Sets (or, repeated, appends) field f of m from text; a scalar the body
// set already must equal it.
absl::Status SetFromText(gp::Message* m, const gp::FieldDescriptor* f,
                         const std::string& text, absl::string_view where) {
  const gp::Reflection* r = m->GetReflection();
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " '", f->name(), "': '", text, "' is not ", what));
  };
  const bool rep = f->is_repeated();
  const bool had = !rep && r->HasField(*m, f);
  std::string before;
  if (had) {
    // The body's value, for the comparison below.
    std::unique_ptr<gp::Message> copy(m->New());
    copy->CopyFrom(*m);
    before = copy->SerializeAsString();
  }
  switch (f->cpp_type()) {
    case gp::FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(m, f, text) : r->SetString(m, f, text);
      break;
    case gp::FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (!absl::SimpleAtob(text, &v)) return bad("true or false");
      rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
      break;
    }
    case gp::FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an unsigned integer");
      rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
      break;
    }
    case gp::FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an unsigned integer");
      rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
      break;
    }
    case gp::FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      break;
    }
    case gp::FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      break;
    }
    case gp::FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!absl::SimpleAtof(text, &v)) return bad("a number");
      rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
      break;
    }
    case gp::FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(text, &v)) return bad("a number");
      rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      break;
    }
    case gp::FieldDescriptor::CPPTYPE_ENUM: {
      const gp::EnumValueDescriptor* e = f->enum_type()->FindValueByName(text);
      int n;
      if (e == nullptr && absl::SimpleAtoi(text, &n)) {
        e = f->enum_type()->FindValueByNumber(n);
      }
      if (e == nullptr) {
        return bad(absl::StrCat("a value of ", f->enum_type()->name()));
      }
      rep ? r->AddEnum(m, f, e) : r->SetEnum(m, f, e);
      break;
    }
    case gp::FieldDescriptor::CPPTYPE_MESSAGE:
      return absl::InvalidArgumentError(absl::StrCat(
          where, " '", f->name(), "' is a message: set it in the JSON body"));
  }
  if (had && m->SerializeAsString() != before) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " '", f->name(), "' (", text,
                     ") differs from the body's value"));
  }
  return absl::OkStatus();
}

// A formula's expression written in Qdrant's JSON syntax
// (db/formula_json.h), rewritten in place to tqdb.v1.Expression's JSON
// mapping; one that is not (it may be in the mapping already) is left as
// it is, its error kept as RewriteFilters keeps a filter's.
void RewriteExpression(nlohmann::json* v, const std::string& at,
                       std::string* error) {
  absl::StatusOr<FormulaExpr> e = FormulaExprFromJson(*v);
  if (!e.ok()) {
    if (error->empty()) {
      *error = absl::StrCat(at, ": ", e.status().message());
    }
    return;
  }
  Formula f;
  f.expression = *std::move(e);
  v1::Formula proto;
  ToProto(f, &proto);
  std::string text;
  gp::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!gp::util::MessageToJsonString(proto.expression(), &text, o).ok()) {
    return;
  }
  *v = nlohmann::json::parse(text, nullptr, false);
}

// Filters in the body written in Qdrant's JSON syntax (db/filter_json.h),
// as everywhere else in tqdb, rewritten in place to tqdb.v1.Filter's JSON
// mapping: every field of type tqdb.v1.Filter, at any depth of the request
// (a batch's searches[i].filter). A filter that is not valid Qdrant syntax
// is left as it is (it may be in the mapping already); its error is kept
// for the answer should the mapping reject it too.
void RewriteFilters(const gp::Descriptor* d, nlohmann::json* body,
                    const std::string& where, std::string* error) {
  if (!body->is_object()) return;
  for (auto& [name, value] : body->items()) {
    const gp::FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr) f = d->FindFieldByCamelcaseName(name);
    if (f == nullptr || f->cpp_type() != gp::FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    const gp::Descriptor* t = f->message_type();
    auto one = [&](nlohmann::json* v, const std::string& at) {
      if (t->full_name() == "tqdb.v1.Expression") {
        RewriteExpression(v, at, error);
        return;
      }
      if (t->full_name() != "tqdb.v1.Filter") {
        RewriteFilters(t, v, at + ".", error);
        return;
      }
      absl::StatusOr<Filter> filter = FilterFromJson(*v);
      if (!filter.ok()) {
        if (error->empty()) {
          *error = absl::StrCat(at, ".", filter.status().message());
        }
        return;
      }
      v1::Filter proto;
      ToProto(*filter, &proto);
      std::string text;
      gp::util::JsonPrintOptions o;
      o.preserve_proto_field_names = true;
      if (!gp::util::MessageToJsonString(proto, &text, o).ok()) return;
      *v = nlohmann::json::parse(text, nullptr, false);
    };
    if (f->is_repeated() && value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) {
        one(&value[i], absl::StrCat(where, name, "[", i, "]"));
      }
    } else if (!f->is_repeated()) {
      one(&value, where + name);
    }
  }
}

}  // namespace

absl::Span<const Route> Routes() { return kRoutes; }

absl::StatusOr<RouteMatch> MatchRoute(const std::string& method,
                                      const std::string& path,
                                      std::string* allowed) {
  const std::vector<absl::string_view> segs = Segments(path);
  int best = -1;
  for (const Route& r : kRoutes)
    best = std::max(best, Specificity(r.pattern, segs));
  if (best < 0) {
    return absl::NotFoundError(absl::StrCat("no such path: ", path));
  }
  std::vector<std::string> methods;
  for (const Route& r : kRoutes) {
    if (Specificity(r.pattern, segs) != best) continue;
    if (method != r.method) {
      methods.push_back(r.method);
      continue;
    }
    RouteMatch m;
    m.route = &r;
    const std::vector<absl::string_view> p = Segments(r.pattern);
    for (size_t i = 0; i < p.size(); ++i) {
      if (!IsParam(p[i])) continue;
      // (httplib decoded the path's %XX already.)
      m.params.emplace_back(std::string(p[i].substr(1, p[i].size() - 2)),
                            std::string(segs[i]));
    }
    return m;
  }
  *allowed = absl::StrJoin(methods, ", ");
  return absl::FailedPreconditionError(
      absl::StrCat("method ", method, " not allowed on ", path,
                   " (allowed: ", *allowed, ")"));
}

absl::StatusOr<std::unique_ptr<gp::Message>> BuildRequest(
    const RouteMatch& match, const std::string& body,
    const std::multimap<std::string, std::string>& query) {
  const gp::MethodDescriptor* md = FindMethod(*match.route);
  if (md == nullptr) {
    return absl::InternalError(
        absl::StrCat("route to unknown RPC ", match.route->rpc));
  }
  std::unique_ptr<gp::Message> req = NewMessage(md->input_type());
  if (!absl::StripAsciiWhitespace(body).empty()) {
    std::string text = body;
    std::string filter_error;
    nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_object()) {
      RewriteFilters(md->input_type(), &parsed, "", &filter_error);
      text = parsed.dump();
    }
    gp::util::JsonParseOptions o;
    o.ignore_unknown_fields = false;
    const auto s = gp::util::JsonStringToMessage(text, req.get(), o);
    if (!s.ok() && !filter_error.empty()) {
      return absl::InvalidArgumentError(filter_error);
    }
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request body is not a valid ", md->input_type()->full_name(),
          " in JSON: ", std::string(s.message())));
    }
  }
  const gp::Descriptor* d = md->input_type();
  for (const auto& [name, value] : match.params) {
    const gp::FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr) {
      return absl::InternalError(absl::StrCat("route ", match.route->pattern,
                                              ": ", d->full_name(),
                                              " has no field ", name));
    }
    TQ_RETURN_IF_ERROR(SetFromText(req.get(), f, value, "path segment"));
  }
  for (const auto& [name, value] : query) {
    const gp::FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr) f = d->FindFieldByLowercaseName(name);
    if (f == nullptr) f = d->FindFieldByCamelcaseName(name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter '", name, "' (", d->full_name(),
                       " has no such field)"));
    }
    TQ_RETURN_IF_ERROR(SetFromText(req.get(), f, value, "query parameter"));
  }
  return req;
}

absl::StatusOr<std::unique_ptr<gp::Message>> NewResponse(const Route& route) {
  const gp::MethodDescriptor* md = FindMethod(route);
  if (md == nullptr) {
    return absl::InternalError(
        absl::StrCat("route to unknown RPC ", route.rpc));
  }
  return NewMessage(md->output_type());
}

absl::StatusOr<std::string> ToJson(const gp::Message& m) {
  gp::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  std::string out;
  const auto s = gp::util::MessageToJsonString(m, &out, o);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("response to JSON: ", std::string(s.message())));
  }
  return out;
}

}  // namespace tqdb
