"""tqdb_client: the Python client of tqdb's gRPC API.

    from tqdb_client import Client
    db = Client("127.0.0.1:7700", api_key=None)
    db.create_collection("docs", dim=384)
    db.upsert("docs", ids, vectors, payloads)          # numpy (n, 384)
    hits = db.search("docs", query, limit=10, rescore=True)

Filtered search and scroll come with the filtered-search API (pending).
"""
from tqdb_client.client import Client
from tqdb_client.types import (CollectionInfo, Error, MemoryUsage, Record,
                               ScoredPoint)

__all__ = ["Client", "CollectionInfo", "Error", "MemoryUsage", "Record",
           "ScoredPoint"]
