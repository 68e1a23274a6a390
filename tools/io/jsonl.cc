// JSON Lines: the .jsonl vector reader ({"id": 12, "vector": [...],
// "payload": <any JSON>, "sparse_vector": {"indices": [...], "values":
// [...]}, "text": "..."} a line) and the --payload reader (line i: the
// payload of row i). nlohmann::json and its exceptions stay inside this file.
#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "quant/status_macros.h"
#include "tools/io/formats.h"
#include "tools/io/text.h"

namespace tqdb {
namespace io {
namespace {

using Json = nlohmann::json;

// Nesting depth of the JSON text, brackets inside strings ignored; stops
// counting past kMaxJsonDepth. Guards the recursive parts of the library.
int JsonDepth(absl::string_view s) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > kMaxJsonDepth) return max_depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

// Parses one line of JSON; errors name the line.
absl::Status ParseJsonLine(const std::string& path, uint64_t line_no,
                           const std::string& line, Json* out) {
  if (JsonDepth(line) > kMaxJsonDepth) {
    return Invalid(path, "line ", line_no, ": JSON nested deeper than ",
                   kMaxJsonDepth, " levels");
  }
  try {
    *out = Json::parse(line);
  } catch (const std::exception& e) {
    return Invalid(path, "line ", line_no, ": unparsable JSON: ", e.what());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CompactJson(const std::string& path,
                                        uint64_t line_no, const Json& j) {
  try {
    return j.dump();
  } catch (const std::exception& e) {
    return Invalid(path, "line ", line_no, ": cannot serialize: ", e.what());
  }
}

struct JsonlRow {
  std::vector<float> vector;
  bool has_id = false;
  uint64_t id = 0;
  std::string payload;
  std::vector<uint32_t> sparse_indices;  // "sparse_vector", if any
  std::vector<float> sparse_values;
  std::string text;  // "text", if any
};

// The row's "sparse_vector": {"indices": [uint32...], "values": [number...]}
// of equal lengths, the values finite in float32 (the database checks the
// rest: no index twice).
absl::Status DecodeSparse(const std::string& path, uint64_t line_no,
                          const Json& s, JsonlRow* row) {
  row->sparse_indices.clear();
  row->sparse_values.clear();
  auto bad = [&](auto&&... why) {
    return Invalid(path, "line ", line_no, ": \"sparse_vector\" ", why...);
  };
  if (!s.is_object()) return bad("is not an object");
  const auto indices = s.find("indices");
  const auto values = s.find("values");
  if (indices == s.end() || values == s.end() || !indices->is_array() ||
      !values->is_array()) {
    return bad("needs the arrays \"indices\" and \"values\"");
  }
  if (indices->size() != values->size()) {
    return bad("has ", indices->size(), " indices and ", values->size(),
               " values");
  }
  for (size_t i = 0; i < indices->size(); ++i) {
    const Json& x = (*indices)[i];
    if (!x.is_number_unsigned() ||
        x.get<uint64_t>() > std::numeric_limits<uint32_t>::max()) {
      return bad("index ", i, " (", x.dump(),
                 ") is not an integer in [0, 4294967295]");
    }
    const Json& v = (*values)[i];
    const float f = v.is_number() ? static_cast<float>(v.get<double>())
                                  : std::numeric_limits<float>::quiet_NaN();
    if (!std::isfinite(f)) {
      return bad("value ", i, " (", v.dump(), ") is not a finite float32");
    }
    row->sparse_indices.push_back(static_cast<uint32_t>(x.get<uint64_t>()));
    row->sparse_values.push_back(f);
  }
  return absl::OkStatus();
}

// Fills *row from one parsed line. `dim` 0 = not known yet (first row).
absl::Status DecodeJsonlRow(const std::string& path, uint64_t line_no,
                            const Json& j, uint32_t dim, JsonlRow* row) {
  if (!j.is_object()) {
    return Invalid(path, "line ", line_no, ": not a JSON object");
  }
  const auto v = j.find("vector");
  if (v == j.end()) {
    return Invalid(path, "line ", line_no, ": no \"vector\" field");
  }
  if (!v->is_array()) {
    return Invalid(path, "line ", line_no, ": \"vector\" is not an array");
  }
  const size_t n = v->size();
  if (dim == 0) {
    if (n == 0 || n > kMaxDim) {
      return DimError(path, absl::StrCat("line ", line_no, ": "),
                      static_cast<int64_t>(n));
    }
  } else if (n != dim) {
    return Invalid(path, "line ", line_no, ": dimension ", n, ", expected ",
                   dim, " (as in the first row)");
  }
  row->vector.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Json& x = (*v)[i];
    if (!x.is_number()) {
      return Invalid(path, "line ", line_no, " column ", i + 1,
                     ": not a number");
    }
    const double d = x.get<double>();
    const float f = static_cast<float>(d);
    if (!std::isfinite(f)) {
      if (std::isfinite(d)) {
        return Invalid(path, "line ", line_no, " column ", i + 1, ": value ", d,
                       " overflows float32");
      }
      return Invalid(path, "line ", line_no, " column ", i + 1, ": ",
                     NonFiniteName(d));
    }
    row->vector[i] = f;
  }
  const auto id = j.find("id");
  row->has_id = id != j.end();
  if (row->has_id) {
    if (!id->is_number_unsigned()) {
      return Invalid(path, "line ", line_no, ": \"id\" ", id->dump(),
                     " is not an unsigned 64-bit integer");
    }
    row->id = id->get<uint64_t>();
  }
  const auto payload = j.find("payload");
  if (payload == j.end()) {
    row->payload.clear();
  } else {
    TQ_ASSIGN_OR_RETURN(row->payload, CompactJson(path, line_no, *payload));
  }
  const auto text = j.find("text");
  row->text.clear();
  if (text != j.end()) {
    if (!text->is_string()) {
      return Invalid(path, "line ", line_no, ": \"text\" is ",
                     text->type_name(), ", not a string");
    }
    row->text = text->get<std::string>();
  }
  const auto sparse = j.find("sparse_vector");
  if (sparse == j.end()) {
    row->sparse_indices.clear();
    row->sparse_values.clear();
    return absl::OkStatus();
  }
  if (text != j.end()) {
    return Invalid(path, "line ", line_no,
                   ": \"text\" and \"sparse_vector\": give one (the text "
                   "becomes the sparse vector)");
  }
  return DecodeSparse(path, line_no, *sparse, row);
}

class JsonlReader : public TextVectorReader {
 public:
  static absl::StatusOr<std::unique_ptr<VectorReader>> Open(
      std::unique_ptr<InputFile> file) {
    std::unique_ptr<JsonlReader> r(new JsonlReader(std::move(file)));
    TQ_ASSIGN_OR_RETURN(const bool got, r->ReadDataLine());
    if (!got) return Invalid(r->path(), "no data rows");
    JsonlRow row;
    TQ_RETURN_IF_ERROR(r->ParseRow(&row));
    r->has_ids_ = row.has_id;
    r->first_line_ = r->line_number();
    r->KeepLine(static_cast<uint32_t>(row.vector.size()));
    return std::unique_ptr<VectorReader>(std::move(r));
  }

  bool has_ids() const override { return has_ids_; }
  bool has_payloads() const override { return true; }

 private:
  explicit JsonlReader(std::unique_ptr<InputFile> file)
      : TextVectorReader(std::move(file), "jsonl") {}

  // Parses and checks line() (dim() 0: the first row, which sets it).
  absl::Status ParseRow(JsonlRow* row) {
    Json j;
    TQ_RETURN_IF_ERROR(ParseJsonLine(path(), line_number(), line(), &j));
    return DecodeJsonlRow(path(), line_number(), j, dim(), row);
  }

  absl::Status AppendRow(VectorBatch* batch) override {
    TQ_RETURN_IF_ERROR(ParseRow(&row_));
    if (row_.has_id != has_ids_) {
      return Invalid(path(), "line ", line_number(), ": ",
                     row_.has_id ? "has an \"id\" but" : "has no \"id\" but",
                     " the first row (line ", first_line_, ") ",
                     has_ids_ ? "has one" : "has none",
                     "; ids must be given for all rows or none");
    }
    batch->vectors.insert(batch->vectors.end(), row_.vector.begin(),
                          row_.vector.end());
    if (has_ids_) batch->ids.push_back(row_.id);
    batch->payloads.push_back(std::move(row_.payload));
    batch->sparse_indices.push_back(std::move(row_.sparse_indices));
    batch->sparse_values.push_back(std::move(row_.sparse_values));
    batch->texts.push_back(std::move(row_.text));
    return absl::OkStatus();
  }

  JsonlRow row_;
  bool has_ids_ = false;
  uint64_t first_line_ = 0;
};

class JsonlPayloadReader : public OnePerLineReader<PayloadReader> {
 public:
  using OnePerLineReader::OnePerLineReader;

  absl::StatusOr<size_t> Next(size_t max_rows,
                              std::vector<std::string>* payloads) override {
    payloads->clear();
    if (max_rows == 0) return MaxRowsError(lines_.path());
    while (payloads->size() < max_rows) {
      TQ_ASSIGN_OR_RETURN(const bool got, lines_.ReadLine(&line_));
      if (!got) break;
      if (IsBlank(line_)) {
        payloads->emplace_back();
        continue;
      }
      Json j;
      TQ_RETURN_IF_ERROR(
          ParseJsonLine(lines_.path(), lines_.line_number(), line_, &j));
      TQ_ASSIGN_OR_RETURN(std::string text,
                          CompactJson(lines_.path(), lines_.line_number(), j));
      payloads->push_back(std::move(text));
    }
    return payloads->size();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<VectorReader>> OpenJsonl(
    std::unique_ptr<InputFile> file) {
  return JsonlReader::Open(std::move(file));
}

std::unique_ptr<PayloadReader> OpenJsonlPayloads(
    std::unique_ptr<InputFile> file) {
  return std::make_unique<JsonlPayloadReader>(std::move(file));
}

}  // namespace io
}  // namespace tqdb
