"""Generated protobuf and gRPC modules of tqdb (see tqdb_client)."""
