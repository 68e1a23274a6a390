"""tqdb.v1: generated from proto/tqdb/v1/*.proto (rpc/python/generate.sh)."""
