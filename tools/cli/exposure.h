// Whether tqdb serve's address is reachable from other hosts without the
// protections a network needs, for the warning serve prints on start.
#ifndef TQDB_TOOLS_CLI_EXPOSURE_H_
#define TQDB_TOOLS_CLI_EXPOSURE_H_

#include <string>

namespace tqdb {

// "" for a loopback address (127.0.0.0/8, ::1, localhost) or when both an
// API key and TLS are on; else one "warning: --<flag> <listen> ..." line
// saying what is missing: without an API key anyone who reaches the port
// can read, write and delete every collection; without TLS the key and the
// data cross the network in clear text. `flag`: "listen" (gRPC) or "http"
// (REST, which serves the same API).
std::string ExposureWarning(const std::string& flag, const std::string& listen,
                            bool api_key, bool tls);

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_EXPOSURE_H_
