"""The client's result types: plain dataclasses, vectors as numpy arrays,
payloads decoded from JSON when they are JSON."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

Payload = Union[dict, list, str, int, float, bool, bytes, None]


def encode_payload(payload: Payload) -> bytes:
    """bytes as they are (JSON text: the server rejects anything else);
    None as no payload; anything else as JSON text."""
    if payload is None:
        return b""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def decode_payload(raw: bytes) -> Payload:
    """None for no payload, the JSON value when it parses, else the bytes."""
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return raw


def _vector(values) -> Optional[np.ndarray]:
    return np.asarray(values, dtype=np.float32) if len(values) else None


# A sparse vector: {index: value}, or (indices, values).
SparseLike = Union[Mapping[int, float], Tuple[Sequence[int], Sequence[float]]]


def sparse_to_proto(sparse: SparseLike, out) -> None:
    """Fills a tqdb.v1.SparseVector (the server checks the rules: no
    index twice, finite values)."""
    if isinstance(sparse, Mapping):
        indices, values = list(sparse.keys()), list(sparse.values())
    elif isinstance(sparse, (tuple, list)) and len(sparse) == 2:
        indices, values = sparse
    else:
        raise TypeError("a sparse vector is {index: value} or (indices, "
                        "values), got %r" % (type(sparse).__name__,))
    out.indices.extend(int(i) for i in indices)
    out.values.extend(float(v) for v in values)


def _sparse(p) -> Optional[Dict[int, float]]:
    if not p.HasField("sparse_vector") or not p.sparse_vector.indices:
        return None
    return dict(zip(p.sparse_vector.indices, p.sparse_vector.values))


@dataclass
class ScoredPoint:
    """A search hit: inner product (cosine, ip; larger is better) or squared
    L2 distance (l2; smaller is better); a sparse or hybrid search's score
    is larger-better on every metric. sparse_vector: {index: value}, with
    the vector."""
    id: int
    score: float
    payload: Payload = None
    vector: Optional[np.ndarray] = None
    sparse_vector: Optional[Dict[int, float]] = None

    @classmethod
    def from_proto(cls, p) -> "ScoredPoint":
        return cls(id=p.id, score=p.score, payload=decode_payload(p.payload),
                   vector=_vector(p.vector), sparse_vector=_sparse(p))


@dataclass
class PointGroup:
    """A group of Client.search_groups: the value its hits share at the
    group_by key (a str or an int), and its hits, best first."""
    value: Union[str, int]
    hits: List[ScoredPoint]

    @classmethod
    def from_proto(cls, g) -> "PointGroup":
        value = g.keyword if g.WhichOneof("value") == "keyword" else g.integer
        return cls(value=value,
                   hits=[ScoredPoint.from_proto(p) for p in g.hits])


@dataclass
class FacetHit:
    """A value of Client.facet (a str, an int or a bool) and how many
    points hold it."""
    value: Union[str, int, bool]
    count: int

    @classmethod
    def from_proto(cls, h) -> "FacetHit":
        return cls(value=getattr(h, h.WhichOneof("value") or "keyword"),
                   count=h.count)


@dataclass
class Record:
    """A stored point (Client.retrieve); order_value: the value an ordered
    scroll lists it at."""
    id: int
    payload: Payload = None
    vector: Optional[np.ndarray] = None
    order_value: Optional[float] = None
    sparse_vector: Optional[Dict[int, float]] = None

    @classmethod
    def from_proto(cls, p) -> "Record":
        return cls(id=p.id, payload=decode_payload(p.payload),
                   vector=_vector(p.vector), sparse_vector=_sparse(p),
                   order_value=p.order_value
                   if p.HasField("order_value") else None)


@dataclass
class ScrollPage:
    """A page of Client.scroll: points in id order (or order_by's); the
    next page starts at next_offset (None after the last page) and, ordered,
    at next_order_value."""
    points: List[Record]
    next_offset: Optional[int] = None
    unindexed_fields: List[str] = field(default_factory=list)
    next_order_value: Optional[float] = None

    @classmethod
    def from_proto(cls, r) -> "ScrollPage":
        return cls(points=[Record.from_proto(p) for p in r.points],
                   next_offset=r.next_page_offset
                   if r.HasField("next_page_offset") else None,
                   unindexed_fields=list(r.unindexed_fields),
                   next_order_value=r.next_order_value
                   if r.HasField("next_order_value") else None)


@dataclass
class FieldIndexInfo:
    """A payload index: its field (a dotted path), type, whether it is
    built, the points it holds and its memory."""
    field: str
    type: str
    ready: bool
    points: int
    memory_bytes: int

    @classmethod
    def from_proto(cls, p) -> "FieldIndexInfo":
        from tqdb.v1 import collections_pb2 as pb
        return cls(field=p.field,
                   type=pb.FieldType.Name(p.type).replace("FIELD_TYPE_",
                                                           "").lower(),
                   ready=p.ready, points=p.points,
                   memory_bytes=p.memory_bytes)


@dataclass
class MemoryUsage:
    """What a collection holds in memory (tqdb serve --memory-limit)."""
    bytes: int = 0
    index_bytes: int = 0
    reserved_bytes: int = 0
    total_bytes: int = 0
    limit_bytes: int = 0
    sparse_bytes: int = 0  # of bytes, the sparse vectors' inverted index


@dataclass
class CollectionInfo:
    """A collection's settings and state (the API's CollectionInfo)."""
    name: str
    dim: int
    count: int
    metric: str
    method: str
    bits: int
    trained: bool
    training: bool
    nlist: int
    store_vectors: bool
    imbalance: float
    disk_bytes: int
    memory: MemoryUsage = field(default_factory=MemoryUsage)
    last_training_error: str = ""
    payload_indexes: List[FieldIndexInfo] = field(default_factory=list)
    refine: str = "raw"            # "raw", "int8" or "f32"
    prefix_sharing: str = "auto"   # "auto", "always" or "never"
    pca_weighting: str = "auto"    # "auto", "off" or "on"
    # The active index's codec, e.g. "pca 4-bit weighted (262 B)"; ""
    # while untrained.
    codec: str = ""
    sparse_points: int = 0         # points holding a sparse vector
    # BM25 settings ({"language", "k1", "b", "avg_len"}), None without.
    bm25: Optional[dict] = None

    @classmethod
    def from_proto(cls, p) -> "CollectionInfo":
        from tqdb.v1 import collections_pb2 as pb
        metric = pb.Metric.Name(p.metric).replace("METRIC_", "").lower()
        method = pb.Method.Name(p.quantizer.method).replace("METHOD_", "")
        m = p.memory
        return cls(name=p.name, dim=p.dim, count=p.count, metric=metric,
                   method=method.lower(), bits=p.quantizer.bits,
                   trained=p.trained, training=p.training, nlist=p.nlist,
                   store_vectors=p.store_vectors, imbalance=p.lists.imbalance,
                   disk_bytes=p.disk_bytes,
                   memory=MemoryUsage(m.bytes, m.index_bytes, m.reserved_bytes,
                                      m.total_bytes, m.limit_bytes,
                                      m.sparse_bytes),
                   sparse_points=p.sparse_points,
                   bm25={"language": p.bm25.language, "k1": p.bm25.k1,
                         "b": p.bm25.b, "avg_len": p.bm25.avg_len}
                   if p.HasField("bm25") else None,
                   last_training_error=p.last_training_error,
                   payload_indexes=[FieldIndexInfo.from_proto(i)
                                    for i in p.payload_indexes],
                   refine=pb.Refine.Name(p.refine).replace(
                       "REFINE_", "").lower().replace("unspecified", "raw"),
                   prefix_sharing=pb.PrefixSharing.Name(
                       p.prefix_sharing).replace("PREFIX_SHARING_", "")
                   .lower().replace("unspecified", "auto"),
                   pca_weighting=pb.PcaWeighting.Name(
                       p.pca_weighting).replace("PCA_WEIGHTING_", "")
                   .lower().replace("unspecified", "auto"),
                   codec=p.codec)


class Error(Exception):
    """A failed call: the gRPC status code (grpc.StatusCode) and the
    server's message."""

    def __init__(self, code: Any, message: str):
        super().__init__("%s: %s" % (getattr(code, "name", code), message))
        self.code = code
        self.message = message
