"""tqdb.v1: generated from proto/tqdb/v1/tqdb.proto (rpc/python/generate.sh)."""
