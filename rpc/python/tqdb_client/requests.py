"""How the client shapes its requests: vectors as float32 arrays, ids,
payload selectors, examples and filters as the API's messages."""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from tqdb.v1 import collections_pb2 as cpb
from tqdb.v1 import points_pb2 as ppb
from tqdb_client import formulas
from tqdb_client.filters import FilterLike, to_proto

IdsLike = Union[Sequence[int], np.ndarray]
VectorLike = Union[Sequence[float], np.ndarray]
# with_payload: True / False, a list of paths (only those parts of each
# payload), or {"include": [...], "exclude": [...]} (Qdrant's forms).
PayloadLike = Union[bool, Sequence[str], Mapping[str, Sequence[str]]]


def _payload_fields(
        with_payload: PayloadLike) -> Tuple[bool, Optional[ppb.PayloadSelector]]:
    """with_payload as a request's with_payload and payload_selector."""
    if isinstance(with_payload, bool):
        return with_payload, None
    if isinstance(with_payload, str):
        raise TypeError("with_payload: a list of paths, not a string: [%r]"
                        % with_payload)
    if isinstance(with_payload, Mapping):
        unknown = set(with_payload) - {"include", "exclude"}
        if unknown:
            raise ValueError("with_payload: unknown keys %s (include, exclude)"
                             % sorted(unknown))
        for key in ("include", "exclude"):
            if isinstance(with_payload.get(key), str):
                raise TypeError("with_payload[%r]: a list of paths, not a "
                                "string" % key)
        return True, ppb.PayloadSelector(
            include=list(with_payload.get("include", ())),
            exclude=list(with_payload.get("exclude", ())))
    return True, ppb.PayloadSelector(include=list(with_payload))


def _set_payload_fields(req, with_payload: PayloadLike):
    wp, selector = _payload_fields(with_payload)
    req.with_payload = wp
    if selector is not None:
        req.payload_selector.CopyFrom(selector)
    return req


def _ids(ids) -> List[int]:
    return [int(i) for i in np.asarray(ids).reshape(-1)]


def _matrix(vectors, dim: Optional[int] = None) -> np.ndarray:
    """A C-contiguous float32 (n, d) array (one vector: (1, d))."""
    a = np.ascontiguousarray(vectors, dtype=np.float32)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise ValueError("vectors must be 2-D (n, dim), got shape %s" %
                         (a.shape,))
    if dim is not None and a.shape[1] != dim:
        raise ValueError("vectors have %d dimensions, expected %d" %
                         (a.shape[1], dim))
    return a


def _one_vector(vector) -> np.ndarray:
    """One query vector as a float32 (d,) array."""
    q = _matrix(vector)
    if q.shape[0] != 1:
        raise ValueError("one vector expected; use search_batch for several")
    return q[0]


def _add_examples(ids, vectors, examples) -> None:
    """Appends each example to `ids` (a point id: an int) or to `vectors`
    (anything else: one vector)."""
    for e in examples:
        if isinstance(e, (int, np.integer)) and not isinstance(e, bool):
            ids.append(int(e))
        else:
            vectors.add().values.extend(_one_vector(e).tolist())


def _filter_proto(filter: FilterLike):
    """The request's Filter message, or None."""
    return None if filter is None else to_proto(filter)


def _search_request(name: str, vector: np.ndarray, limit: int, nprobe: int,
                    exact: bool, rescore: bool, oversampling: float,
                    with_payload: PayloadLike, with_vectors: bool,
                    probe_sigmas: float, score_threshold: Optional[float],
                    filter: Optional[ppb.Filter],
                    offset: int) -> ppb.SearchRequest:
    """A SearchRequest's fields every kind of search shares."""
    req = ppb.SearchRequest(
        collection=name, vector=vector.tolist(), limit=limit, offset=offset,
        params=ppb.SearchParams(nprobe=nprobe, exact=exact, rescore=rescore,
                               oversampling=oversampling,
                               probe_sigmas=probe_sigmas),
        with_vectors=with_vectors)
    _set_payload_fields(req, with_payload)
    if score_threshold is not None:
        req.score_threshold = score_threshold
    if filter is not None:
        req.filter.CopyFrom(filter)
    return req


_FUSIONS = {"rrf": ppb.FUSION_RRF, "dbsf": ppb.FUSION_DBSF}


def _fusion_proto(fusion: str) -> int:
    """A hybrid search's fusion ("rrf" or "dbsf") as its enum value."""
    if fusion not in _FUSIONS:
        raise ValueError("fusion must be 'rrf' or 'dbsf', got %r" % (fusion,))
    return _FUSIONS[fusion]


def _formula_proto(formula: Any, defaults: Optional[Mapping[str, Any]]
                   ) -> Optional[ppb.Formula]:
    """A formula (Qdrant's JSON syntax) and its defaults as a Formula, or
    None without one (then defaults are an error)."""
    if formula is None:
        if defaults is not None:
            raise ValueError("defaults go with a formula")
        return None
    out = ppb.Formula()
    formulas.to_proto(formula, defaults, out)
    return out


# bm25: True (the defaults: english, k1 1.2, b 0.75, avg_len 256), a
# language ("french", "none": no stemming), or a dict of language, k1, b,
# avg_len.
Bm25Like = Union[bool, str, Mapping[str, Union[str, float]]]


def _bm25_proto(bm25: Bm25Like) -> cpb.Bm25Config:
    if bm25 is True:
        return cpb.Bm25Config()
    if isinstance(bm25, str):
        return cpb.Bm25Config(language=bm25)
    if isinstance(bm25, Mapping):
        unknown = set(bm25) - {"language", "k1", "b", "avg_len"}
        if unknown:
            raise ValueError("bm25: unknown settings %s (language, k1, b, "
                             "avg_len)" % sorted(unknown))
        return cpb.Bm25Config(**bm25)
    raise ValueError("bm25 must be True, a language or a dict, got %r" %
                     (bm25,))


def _texts(texts: Optional[Sequence[Optional[str]]], n: int,
           sparse: Optional[Sequence] = None) -> List[str]:
    """n texts ("" for none), checked: strings, not beside a sparse
    vector of the same point."""
    if texts is None:
        return [""] * n
    if len(texts) != n:
        raise ValueError("%d texts for %d vectors" % (len(texts), n))
    out = []
    for i, t in enumerate(texts):
        if t is not None and not isinstance(t, str):
            raise ValueError("text %d is %s, not a string" %
                             (i, type(t).__name__))
        if t and sparse is not None and sparse[i] is not None:
            raise ValueError("point %d has a text and a sparse vector: give "
                             "one (the text becomes the sparse vector)" % i)
        out.append(t or "")
    return out
