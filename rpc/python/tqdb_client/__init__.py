"""tqdb_client: the Python client of tqdb's gRPC API.

    from tqdb_client import Client
    db = Client("127.0.0.1:7700", api_key=None)
    db.create_collection("docs", dim=384)
    db.upsert("docs", ids, vectors, payloads)          # numpy (n, 384)
    hits = db.search("docs", query, limit=10, rescore=True)

    db.create_field_index("docs", "lang", "keyword")
    hits = db.search("docs", query, limit=10,
                     filter={"must": [{"key": "lang", "match": {"value": "en"}}]})
    for rec in db.scroll_all("docs", {"must": [{"key": "year",
                                               "range": {"gte": 2020}}]}):
        ...
"""
from tqdb_client.client import Client
from tqdb_client.filters import to_proto as filter_to_proto
from tqdb_client.types import (CollectionInfo, Error, FacetHit,
                               FieldIndexInfo, MemoryUsage, PointGroup, Record,
                               ScoredPoint, ScrollPage)

__all__ = ["Client", "CollectionInfo", "Error", "FacetHit", "FieldIndexInfo",
           "MemoryUsage", "PointGroup", "Record", "ScoredPoint",
           "ScrollPage", "filter_to_proto"]
