// The REST API's routes: each (HTTP method, path pattern) is one gRPC
// method of tqdb.v1, called with the same request message, so that REST and
// gRPC cannot drift (rpc/http_gateway.h calls the gRPC server in process).
//
// A request message is built from, in this order:
//  - the body: the message in protobuf's JSON mapping
//    (google::protobuf::util::JsonStringToMessage; unknown fields are
//    INVALID_ARGUMENT; snake_case or lowerCamelCase names; uint64 as a
//    number or a string; bytes as base64);
//  - the path: a segment {field} sets that field of the request (a
//    repeated integer field gets one element);
//  - the query string: ?field=value for any top-level scalar field
//    (?with_payload=true).
// A field set by both the body and the path must agree. A filter in the
// body (any field of type tqdb.v1.Filter) may be written in Qdrant's JSON
// syntax, as on the command line (db/filter_json.h); it is translated to
// the JSON mapping first (its errors name the place: "filter.must[0].range.
// gt: expected a number").
//
// Adding an RPC to REST is one line of kRoutes (http_routes.cc).
#ifndef TQDB_RPC_HTTP_ROUTES_H_
#define TQDB_RPC_HTTP_ROUTES_H_

#include <google/protobuf/message.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace tqdb {

struct Route {
  const char* method;   // "GET", "POST", "PUT", "DELETE"
  const char* pattern;  // "/collections/{collection}/points/search"
  const char* rpc;      // "tqdb.v1.Points/Search"
};

// Every route.
absl::Span<const Route> Routes();

struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;  // {field}, value
};

// The route of (method, path): the most specific pattern matching the
// path (most literal segments), then its route for the method. NotFound
// when no pattern matches; FailedPrecondition when the path exists but not
// for this method, with the allowed methods in *allowed (", "-joined) — the
// gateway's 405.
absl::StatusOr<RouteMatch> MatchRoute(const std::string& method,
                                      const std::string& path,
                                      std::string* allowed);

// The request message of `match` (see above). InvalidArgument naming the
// field or the JSON error.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRequest(
    const RouteMatch& match, const std::string& body,
    const std::multimap<std::string, std::string>& query);

// A new, empty response message of the route's RPC.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> NewResponse(
    const Route& route);

// The message in protobuf's JSON mapping, as the gateway answers it:
// field names as in the .proto (snake_case), fields at their default
// values included.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& m);

}  // namespace tqdb

#endif  // TQDB_RPC_HTTP_ROUTES_H_
