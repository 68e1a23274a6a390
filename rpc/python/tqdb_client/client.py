"""Client: tqdb's gRPC API from Python, numpy in and out."""
from __future__ import annotations

from typing import (Any, Callable, Iterable, Iterator, List, Mapping,
                    Optional, Sequence, TypeVar, Union)

import grpc
import numpy as np

from tqdb.v1 import collections_pb2 as cpb
from tqdb.v1 import collections_pb2_grpc as crpc
from tqdb.v1 import points_pb2 as ppb
from tqdb.v1 import points_pb2_grpc as prpc
from tqdb.v1 import snapshots_pb2 as spb
from tqdb.v1 import snapshots_pb2_grpc as srpc
from tqdb_client.filters import FilterLike, to_proto
from tqdb_client.requests import (Bm25Like, IdsLike, PayloadLike, VectorLike,
                                  _add_examples, _bm25_proto, _filter_proto,
                                  _formula_proto, _fusion_proto, _ids,
                                  _matrix, _one_vector, _search_request,
                                  _set_payload_fields, _texts)
from tqdb_client.types import (CollectionInfo, Error, FacetHit,
                               FieldIndexInfo, Payload, PointGroup, Record,
                               ScoredPoint, ScrollPage, SparseLike,
                               encode_payload, sparse_to_proto)

T = TypeVar("T")

_METRICS = {"cosine": cpb.METRIC_COSINE, "ip": cpb.METRIC_IP,
            "dot": cpb.METRIC_IP, "l2": cpb.METRIC_L2,
            "euclidean": cpb.METRIC_L2}
_METHODS = {"renorm": cpb.METHOD_RENORM, "mse": cpb.METHOD_MSE,
            "prod": cpb.METHOD_PROD, "pq": cpb.METHOD_PQ,
            "pca": cpb.METHOD_PCA}
_REFINES = {"raw": cpb.REFINE_RAW, "int8": cpb.REFINE_INT8,
            "f32": cpb.REFINE_F32}
_PREFIX_SHARING = {"auto": cpb.PREFIX_SHARING_AUTO,
                   "always": cpb.PREFIX_SHARING_ALWAYS,
                   "never": cpb.PREFIX_SHARING_NEVER}
_PCA_WEIGHTING = {"auto": cpb.PCA_WEIGHTING_AUTO,
                  "off": cpb.PCA_WEIGHTING_OFF, "on": cpb.PCA_WEIGHTING_ON}
_FIELD_TYPES = {"keyword": cpb.FIELD_TYPE_KEYWORD,
                "integer": cpb.FIELD_TYPE_INTEGER,
                "float": cpb.FIELD_TYPE_FLOAT, "bool": cpb.FIELD_TYPE_BOOL,
                "text": cpb.FIELD_TYPE_TEXT,
                "datetime": cpb.FIELD_TYPE_DATETIME,
                "geo": cpb.FIELD_TYPE_GEO}


class Client:
    """A connection to `tqdb serve`.

    Every call is retried on UNAVAILABLE (server restarting, connection
    lost) up to `retries` times, waiting `backoff`, 2 x `backoff`, ... (at
    most `max_backoff`) between tries; any other failure raises
    tqdb_client.Error with the gRPC code and the server's message.

    Args:
      address: "host:port" of the server's gRPC listener.
      api_key: sent as `authorization: Bearer <key>` when the server has one.
      root_certificates: PEM of the CA (or self-signed certificate) for a
        TLS server; None = plaintext.
      timeout: seconds per call (None: no deadline).
    """

    def __init__(self, address: str = "127.0.0.1:7700",
                 api_key: Optional[str] = None, *,
                 root_certificates: Optional[bytes] = None,
                 timeout: Optional[float] = 60.0, retries: int = 5,
                 backoff: float = 0.1, max_backoff: float = 5.0,
                 max_message_bytes: int = 64 << 20):
        # The channel reconnects on the same schedule as the retries (its own
        # default waits 1 s, then 1.6x longer each time, up to 2 minutes).
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.initial_reconnect_backoff_ms",
                    max(1, int(backoff * 1000))),
                   ("grpc.min_reconnect_backoff_ms",
                    max(1, int(backoff * 1000))),
                   ("grpc.max_reconnect_backoff_ms",
                    max(1, int(max_backoff * 1000)))]
        if root_certificates is not None:
            creds = grpc.ssl_channel_credentials(root_certificates)
            self._channel = grpc.secure_channel(address, creds, options)
        else:
            self._channel = grpc.insecure_channel(address, options)
        self._metadata = ((("authorization", "Bearer " + api_key),)
                          if api_key else ())
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._collections = crpc.CollectionsStub(self._channel)
        self._points = prpc.PointsStub(self._channel)
        self._snapshots = srpc.SnapshotsStub(self._channel)

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, fn: Callable[..., T], request_or_iterator_factory,
              streaming: bool = False) -> T:
        """fn(request) with retries on UNAVAILABLE; a stream's requests come
        from a factory so that a retry sends them again."""
        delay = self._backoff
        for attempt in range(self._retries + 1):
            request = (request_or_iterator_factory() if streaming
                       else request_or_iterator_factory)
            try:
                return fn(request, timeout=self._timeout,
                          metadata=self._metadata)
            except grpc.RpcError as e:
                code = e.code() if hasattr(e, "code") else None
                if code == grpc.StatusCode.UNAVAILABLE and \
                        attempt < self._retries:
                    # Wait for the channel to connect, at most `delay`.
                    try:
                        grpc.channel_ready_future(self._channel).result(
                            timeout=delay)
                    except grpc.FutureTimeoutError:
                        pass
                    delay = min(delay * 2, self._max_backoff)
                    continue
                raise Error(code, e.details() if hasattr(e, "details")
                            else str(e)) from None
        raise AssertionError("unreachable")

    # --------------------------------------------------------- collections

    def create_collection(self, name: str, dim: int, *, metric: str = "cosine",
                          method: str = "renorm", bits: int = 4,
                          nlist: int = 0, store_vectors: bool = True,
                          seed: int = 0, train_threshold: int = 0,
                          refine: str = "raw", prefix_sharing: str = "auto",
                          bm25: Optional[Bm25Like] = None,
                          pca_weighting: str = "auto"
                          ) -> CollectionInfo:
        """Creates a collection (ALREADY_EXISTS if the name is taken).

        metric: "cosine", "ip" or "l2"; method: "renorm" (TurboQuant with
        unbiased inner products), "pca", "mse", "prod" or "pq"; bits per
        dimension 1..8; nlist 0 = chosen at training time. refine: what a
        rescore reads, "raw" (the stored vectors), "int8" or "f32" (codes in
        memory). prefix_sharing: whether the lists hold the first scan
        pass's bits once or twice: "auto" (once where that loses nothing),
        "always" (less memory for pca too) or "never". pca_weighting (pca):
        weigh the codes' error as queries like the data see it, "auto"
        (where the collection's own sample ranks better so; CollectionInfo
        .codec says), "off" or "on". bm25: rank texts
        by BM25 (upsert(texts=...), search(text=...)): True (english
        stemming, k1 1.2, b 0.75, avg_len 256), a Snowball language
        ("french", ...; "none": no stemming) or a dict of language, k1, b,
        avg_len (words of a typical text)."""
        if metric not in _METRICS:
            raise ValueError("metric must be one of %s" % sorted(_METRICS))
        if method not in _METHODS:
            raise ValueError("method must be one of %s" % sorted(_METHODS))
        if refine not in _REFINES:
            raise ValueError("refine must be one of %s" % sorted(_REFINES))
        if prefix_sharing not in _PREFIX_SHARING:
            raise ValueError("prefix_sharing must be one of %s" %
                             sorted(_PREFIX_SHARING))
        if pca_weighting not in _PCA_WEIGHTING:
            raise ValueError("pca_weighting must be one of %s" %
                             sorted(_PCA_WEIGHTING))
        req = cpb.CreateCollectionRequest(
            name=name, dim=dim, metric=_METRICS[metric],
            quantizer=cpb.QuantizerConfig(method=_METHODS[method], bits=bits,
                                         seed=seed),
            ivf=cpb.IvfConfig(nlist=nlist, train_threshold=train_threshold),
            store_vectors=store_vectors, refine=_REFINES[refine],
            prefix_sharing=_PREFIX_SHARING[prefix_sharing],
            pca_weighting=_PCA_WEIGHTING[pca_weighting])
        if bm25 is not None and bm25 is not False:
            req.bm25.CopyFrom(_bm25_proto(bm25))
        return CollectionInfo.from_proto(
            self._call(self._collections.Create, req))

    def get_collection(self, name: str) -> CollectionInfo:
        """The collection's settings, counts, training and memory."""
        return CollectionInfo.from_proto(self._call(
            self._collections.Get, cpb.GetCollectionRequest(name=name)))

    def list_collections(self) -> List[CollectionInfo]:
        """Every collection, sorted by name."""
        r = self._call(self._collections.List, cpb.ListCollectionsRequest())
        return [CollectionInfo.from_proto(c) for c in r.collections]

    def delete_collection(self, name: str) -> None:
        """Deletes the collection and its points (NOT_FOUND if absent)."""
        self._call(self._collections.Delete,
                   cpb.DeleteCollectionRequest(name=name))

    def train(self, name: str, retrain: bool = False) -> CollectionInfo:
        """Trains the collection's index now (blocking); retrain rebuilds
        the centroids of a trained one."""
        return CollectionInfo.from_proto(self._call(
            self._collections.Train,
            cpb.TrainCollectionRequest(name=name, retrain=retrain)))

    # -------------------------------------------------------------- points

    def upsert(self, name: str, ids: IdsLike, vectors: np.ndarray,
               payloads: Optional[Sequence[Payload]] = None, *,
               batch_size: int = 1000, wait: bool = False,
               sparse_vectors: Optional[Sequence[Optional[SparseLike]]] = None,
               texts: Optional[Sequence[Optional[str]]] = None) -> int:
        """Inserts or replaces points, `batch_size` a message over one
        client stream (Points.UpsertStream); returns how many were stored.

        vectors: (n, dim) array (any float dtype); ids: n non-negative
        integers; payloads: n JSON-able values or bytes of JSON text (None:
        none; anything else is INVALID_ARGUMENT); sparse_vectors: n sparse
        vectors ({index: value} or (indices, values); None: none) beside
        the dense ones, for search(sparse=...); texts: n texts (None: none)
        of a collection created with bm25, each indexed as its BM25 sparse
        vector (not beside one), for search(text=...); the texts are not
        stored (keep them in the payloads to read them back). Each
        batch is stored whole or not at all; on a bad batch the error says
        how many batches before it were stored. wait: return after the
        server's write-ahead log is synced."""
        x = _matrix(vectors)
        id_array = np.asarray(ids, dtype=np.uint64).reshape(-1)
        n = x.shape[0]
        if id_array.shape[0] != n:
            raise ValueError("%d ids for %d vectors" % (id_array.shape[0], n))
        if payloads is not None and len(payloads) != n:
            raise ValueError("%d payloads for %d vectors" % (len(payloads), n))
        if sparse_vectors is not None and len(sparse_vectors) != n:
            raise ValueError("%d sparse vectors for %d vectors" %
                             (len(sparse_vectors), n))
        # Converted before the stream starts: a bad one raises here.
        sparse = [None] * n
        for i, sv in enumerate(sparse_vectors or ()):
            if sv is not None:
                sparse[i] = ppb.SparseVector()
                sparse_to_proto(sv, sparse[i])
        text = _texts(texts, n, sparse_vectors)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if n == 0:
            return 0

        def batches() -> Iterator[ppb.UpsertRequest]:
            for lo in range(0, n, batch_size):
                hi = min(n, lo + batch_size)
                pts = [ppb.Point(id=int(id_array[i]), vector=x[i].tolist(),
                                payload=encode_payload(payloads[i])
                                if payloads is not None else b"")
                       for i in range(lo, hi)]
                for p, sv, t in zip(pts, sparse[lo:hi], text[lo:hi]):
                    if sv is not None:
                        p.sparse_vector.CopyFrom(sv)
                    p.text = t
                yield ppb.UpsertRequest(collection=name, points=pts, wait=wait)

        r = self._call(self._points.UpsertStream, batches, streaming=True)
        return r.upserted

    def update_vectors(self, name: str, ids: IdsLike, vectors: np.ndarray,
                       *, wait: bool = False,
                       sparse_vectors: Optional[
                           Sequence[Optional[SparseLike]]] = None,
                       texts: Optional[Sequence[Optional[str]]] = None
                       ) -> int:
        """Replaces the vectors of stored points and keeps their payloads
        (Qdrant's update_vectors), and their sparse vectors unless
        sparse_vectors (or texts, bm25) give new ones (None: kept); returns
        how many were
        updated. All in
        one call: tqdb_client.Error NOT_FOUND names a point the collection
        does not hold (nothing is written; on a cluster, nothing on that
        point's shard)."""
        x = _matrix(vectors)
        id_array = np.asarray(ids, dtype=np.uint64).reshape(-1)
        if id_array.shape[0] != x.shape[0]:
            raise ValueError("%d ids for %d vectors" %
                             (id_array.shape[0], x.shape[0]))
        req = ppb.UpdateVectorsRequest(
            collection=name, wait=wait,
            points=[ppb.PointVector(id=int(id_array[i]), vector=x[i].tolist())
                    for i in range(x.shape[0])])
        if sparse_vectors is not None and len(sparse_vectors) != x.shape[0]:
            raise ValueError("%d sparse vectors for %d vectors" %
                             (len(sparse_vectors), x.shape[0]))
        for p, sv in zip(req.points, sparse_vectors or ()):
            if sv is not None:
                sparse_to_proto(sv, p.sparse_vector)
        for p, t in zip(req.points, _texts(texts, x.shape[0], sparse_vectors)):
            p.text = t
        return self._call(self._points.UpdateVectors, req).updated

    def retrieve(self, name: str, ids: IdsLike, *,
                 with_payload: PayloadLike = True,
                 with_vectors: bool = False) -> List[Record]:
        """The stored points among ids, in the order asked. with_payload:
        True, False, a list of paths (only those parts of each payload,
        e.g. ["title", "meta.lang"]) or {"include": [...], "exclude":
        [...]}, as in search()."""
        req = _set_payload_fields(ppb.GetPointsRequest(
            collection=name, ids=_ids(ids), with_vectors=with_vectors),
            with_payload)
        return [Record.from_proto(p)
                for p in self._call(self._points.Get, req).points]

    def delete(self, name: str, ids: Optional[IdsLike] = None, *,
               filter: FilterLike = None, wait: bool = False) -> int:
        """Deletes points by id (unknown ids are ignored) or the points
        matching `filter` (tqdb_client.filters); returns how many were
        deleted."""
        if (ids is None) == (filter is None):
            raise ValueError("give ids or a filter (one)")
        req = ppb.DeletePointsRequest(collection=name, wait=wait)
        if ids is not None:
            req.ids.extend(_ids(ids))
        else:
            req.filter.CopyFrom(to_proto(filter))
        return self._call(self._points.Delete, req).deleted

    def count(self, name: str, filter: FilterLike = None) -> int:
        """Points in the collection (matching `filter`, exact)."""
        req = ppb.CountRequest(collection=name)
        if filter is not None:
            req.filter.CopyFrom(to_proto(filter))
        return self._call(self._points.Count, req).count

    def facet(self, name: str, key: str, filter: FilterLike = None, *,
              limit: int = 10) -> List[FacetHit]:
        """The `limit` values of the payload field `key` held by the most
        points (matching `filter`), with their counts (exact), most first,
        ties by value. The field needs a keyword, integer or bool payload
        index (create_field_index)."""
        req = ppb.FacetRequest(collection=name, key=key, limit=limit)
        if filter is not None:
            req.filter.CopyFrom(to_proto(filter))
        return [FacetHit.from_proto(h)
                for h in self._call(self._points.Facet, req).hits]

    def scroll(self, name: str, filter: FilterLike = None, *,
               limit: int = 10, offset: Optional[int] = None,
               with_payload: PayloadLike = True, with_vectors: bool = False,
               order_by: Optional[str] = None, descending: bool = False,
               start_from: Union[float, str, None] = None) -> ScrollPage:
        """A page of the points (matching `filter`) in id order, from id
        `offset` on; the next page starts at the page's next_offset (None
        after the last). order_by: in the order of that numeric field's
        values (an integer or float index), then ids, from value
        `start_from` (and id `offset` among the points at it): the next
        page's are next_order_value and next_offset. A datetime index
        orders by microseconds since 1970 (its order values); start_from
        may then be an RFC 3339 string ("2024-03-01T12:00:00Z")."""
        req = _set_payload_fields(
            ppb.ScrollRequest(collection=name, limit=limit,
                              with_vectors=with_vectors), with_payload)
        if offset is not None:
            req.offset = offset
        if filter is not None:
            req.filter.CopyFrom(to_proto(filter))
        if order_by is not None:
            req.order_by.key = order_by
            req.order_by.descending = descending
            if isinstance(start_from, str):
                req.order_by.start_from_datetime = start_from
            elif start_from is not None:
                req.order_by.start_from = start_from
        return ScrollPage.from_proto(self._call(self._points.Scroll, req))

    def scroll_all(self, name: str, filter: FilterLike = None, *,
                   page_size: int = 256, with_payload: PayloadLike = True,
                   with_vectors: bool = False, order_by: Optional[str] = None,
                   descending: bool = False) -> Iterator[Record]:
        """Every point (matching `filter`) in id order (or order_by's:
        see scroll), page by page."""
        offset: Optional[int] = None
        start_from: Optional[float] = None
        while True:
            page = self.scroll(name, filter, limit=page_size, offset=offset,
                               with_payload=with_payload,
                               with_vectors=with_vectors, order_by=order_by,
                               descending=descending, start_from=start_from)
            yield from page.points
            if page.next_offset is None:
                return
            offset = page.next_offset
            start_from = page.next_order_value

    def _payload_request(self, req, ids, filter):
        if (ids is None) == (filter is None):
            raise ValueError("give ids or a filter (one)")
        if ids is not None:
            req.ids.extend(_ids(ids))
        else:
            req.filter.CopyFrom(to_proto(filter))
        return req

    def set_payload(self, name: str, payload: dict,
                    ids: Optional[IdsLike] = None, *,
                    filter: FilterLike = None, wait: bool = False) -> int:
        """Merges `payload`'s keys into the payloads of the points (by id or
        filter); returns how many changed."""
        req = ppb.SetPayloadRequest(collection=name, wait=wait,
                                   payload=encode_payload(payload))
        return self._call(self._points.SetPayload,
                          self._payload_request(req, ids, filter)).updated

    def overwrite_payload(self, name: str, payload: dict,
                          ids: Optional[IdsLike] = None, *,
                          filter: FilterLike = None,
                          wait: bool = False) -> int:
        """Replaces the payloads of the points (by id or filter) with
        `payload`; returns how many changed."""
        req = ppb.SetPayloadRequest(collection=name, wait=wait,
                                   payload=encode_payload(payload))
        return self._call(self._points.OverwritePayload,
                          self._payload_request(req, ids, filter)).updated

    def delete_payload_keys(self, name: str, keys: Sequence[str],
                            ids: Optional[IdsLike] = None, *,
                            filter: FilterLike = None,
                            wait: bool = False) -> int:
        """Removes keys (dotted paths) from the payloads of the points (by
        id or filter); returns how many changed."""
        req = ppb.DeletePayloadKeysRequest(collection=name, keys=list(keys),
                                          wait=wait)
        return self._call(self._points.DeletePayloadKeys,
                          self._payload_request(req, ids, filter)).updated

    def create_field_index(self, name: str, field: str, type: str, *,
                           wait: bool = True) -> FieldIndexInfo:
        """A payload index on `field` (a dotted path), type "keyword",
        "integer", "float", "bool", "text" (the words of its strings, for
        match text / text_any), "datetime" (RFC 3339 strings, for ranges
        of datetimes) or "geo" ({"lon", "lat"} objects, for geo_radius,
        geo_bounding_box and geo_polygon); built over the stored points in the
        background (wait: return once it is ready)."""
        if type not in _FIELD_TYPES:
            raise ValueError("type must be one of %s" % sorted(_FIELD_TYPES))
        req = cpb.CreateFieldIndexRequest(collection=name, field=field,
                                         type=_FIELD_TYPES[type], wait=wait)
        return FieldIndexInfo.from_proto(
            self._call(self._collections.CreateFieldIndex, req))

    def delete_field_index(self, name: str, field: str) -> None:
        """Drops the payload index on `field`."""
        self._call(self._collections.DeleteFieldIndex,
                   cpb.DeleteFieldIndexRequest(collection=name, field=field))

    # ------------------------------------------------------------- aliases

    def update_aliases(self, actions: Sequence[tuple]) -> None:
        """Applies alias actions in order, all or none: ("create", alias,
        collection) or ("delete", alias). Moving an alias to another
        collection is [("delete", a), ("create", a, new)]: readers and
        writers of `a` switch at once."""
        ops = []
        for a in actions:
            if a[0] == "create" and len(a) == 3:
                ops.append(cpb.AliasOperation(create_alias=cpb.CreateAlias(
                    alias=a[1], collection=a[2])))
            elif a[0] == "delete" and len(a) == 2:
                ops.append(cpb.AliasOperation(
                    delete_alias=cpb.DeleteAlias(alias=a[1])))
            else:
                raise ValueError("alias action %r: expected ('create', alias, "
                                 "collection) or ('delete', alias)" % (a,))
        self._call(self._collections.UpdateAliases,
                   cpb.UpdateAliasesRequest(actions=ops))

    def create_alias(self, alias: str, collection: str) -> None:
        """`alias` names `collection` in every call from now on."""
        self.update_aliases([("create", alias, collection)])

    def delete_alias(self, alias: str) -> None:
        self.update_aliases([("delete", alias)])

    def list_aliases(self, collection: str = "") -> dict:
        """alias -> collection (only `collection`'s when given)."""
        r = self._call(self._collections.ListAliases,
                       cpb.ListAliasesRequest(collection=collection))
        return {a.alias: a.collection for a in r.aliases}

    def search(self, name: str, vector: Optional[VectorLike],
               limit: int = 10, *,
               nprobe: int = 0, exact: bool = False, rescore: bool = False,
               oversampling: float = 0.0,
               with_payload: PayloadLike = True,
               with_vectors: bool = False,
               score_threshold: Optional[float] = None,
               filter: FilterLike = None,
               probe_sigmas: float = 0.0,
               offset: int = 0, sparse: Optional[SparseLike] = None,
               fusion: str = "rrf", rrf_k: Optional[float] = None,
               prefetch_limit: int = 0,
               sparse_idf: bool = False,
               text: Optional[str] = None,
               formula: Any = None,
               defaults: Optional[Mapping[str, Any]] = None
               ) -> List[ScoredPoint]:
        """The `limit` nearest points to `vector`, best first, after the
        best `offset` (pagination: offset=limit is the second page).

        nprobe: IVF lists probed (0: the server's default); exact: brute
        force over the stored vectors; rescore: rerank limit x oversampling
        candidates (0: 4) on the stored vectors; score_threshold: only
        points scoring at least it (at most it for l2); filter: only points
        matching it (Qdrant's JSON syntax as a dict, tqdb_client.filters),
        `limit` of them whenever that many match; probe_sigmas: adaptive
        probing (ip, cosine; 0: off): a list is skipped when its centroid's
        score plus that many deviations of its members' cannot reach the
        k-th found, so nprobe becomes the most lists probed; with_payload:
        True, False, a list of paths (only those parts of each payload:
        ["title", "meta.lang"]) or {"include": [...], "exclude": [...]}
        (Qdrant's forms; paths as filters name keys).

        sparse ({index: value} or (indices, values)): with vector None, the
        points' sparse vectors by dot product, exactly; with a vector, a
        hybrid search: each search prefetch_limit deep (0: offset +
        limit), fused by `fusion` ("rrf": sum of 1 / (rrf_k + position),
        rrf_k 2 unless given; "dbsf": scores normalized by mean +/- 3 sd and
        summed). Sparse and hybrid scores are larger-better. sparse_idf:
        weigh each sparse value by its term's IDF over the collection,
        ln(1 + (N - n + 0.5) / (n + 0.5)) (Qdrant's modifier idf; BM25 with
        term-frequency weights stored). text: a collection created with
        bm25: a full-text query ranked by BM25 (its stemmed words weighed
        by their IDF), instead of sparse: alone or hybrid the same way.

        formula (score boosting, Qdrant's formula query; a dict in its JSON
        syntax, tqdb_client.formulas): the search's best prefetch_limit
        points (0: offset + limit) rescored by it, highest first, e.g.
        {"sum": ["$score", {"mult": [0.1, "popularity"]}]}; defaults:
        {key: value} where a point has no value at a key; score_threshold
        then applies to the formula's value."""
        q = (np.zeros(0, dtype=np.float32) if vector is None
             else _one_vector(vector))
        req = _search_request(name, q, limit, nprobe, exact, rescore,
                                   oversampling, with_payload, with_vectors,
                                   probe_sigmas, score_threshold,
                                   _filter_proto(filter), offset)
        if sparse is not None and text is not None:
            raise ValueError("sparse and text: give one (a text is searched "
                             "as its words' sparse vector)")
        if sparse is not None or text is not None:
            if text is not None:
                req.text = text
            else:
                sparse_to_proto(sparse, req.sparse_vector)
                req.sparse_idf = sparse_idf
            if vector is not None:
                req.fusion = _fusion_proto(fusion)
                req.prefetch_limit = prefetch_limit
                if rrf_k is not None:
                    req.rrf_k = rrf_k
        one = _formula_proto(formula, defaults)
        if one is not None:
            req.formula.CopyFrom(one)
            req.prefetch_limit = prefetch_limit
        return [ScoredPoint.from_proto(p)
                for p in self._call(self._points.Search, req).points]

    def recommend(self, name: str, positive: Sequence[Union[int, VectorLike]],
                  negative: Sequence[Union[int, VectorLike]] = (),
                  limit: int = 10, *,
                  nprobe: int = 0, exact: bool = False, rescore: bool = False,
                  oversampling: float = 0.0,
                  with_payload: PayloadLike = True,
                  with_vectors: bool = False,
                  score_threshold: Optional[float] = None,
                  filter: FilterLike = None, probe_sigmas: float = 0.0,
                  offset: int = 0,
                  strategy: str = "average_vector") -> List[ScoredPoint]:
        """Search by example (Qdrant's recommend): the points most like the
        `positive` examples, away from the `negative` ones. An example is a
        point id (an int; the point is left out of the results) or a vector
        (a list or array of the collection's dimension). strategy
        (Qdrant's):
        "average_vector": one search with the mean of the positives' stored
        vectors, or 2 * mean(positive) - mean(negative) (each normalized
        under cosine); "best_score": a point nearer some positive than any
        negative scores f(its best positive score), the others
        -f(their best negative score), f(s) = (s / (1 + |s|) + 1) / 2;
        "sum_scores": the positives' scores minus the negatives'. Under the
        last two, higher scores are better on every metric (l2: minus the
        squared distance), and negatives alone are allowed on ip and cosine
        collections. The other arguments as in search(). tqdb_client.Error
        NOT_FOUND names an id the collection does not hold;
        FAILED_PRECONDITION without stored vectors."""
        strategies = {"average_vector": ppb.RECOMMEND_STRATEGY_AVERAGE_VECTOR,
                      "best_score": ppb.RECOMMEND_STRATEGY_BEST_SCORE,
                      "sum_scores": ppb.RECOMMEND_STRATEGY_SUM_SCORES}
        if strategy not in strategies:
            raise ValueError(
                f"strategy must be one of {', '.join(strategies)}, got "
                f"{strategy!r}")
        req = _search_request(name, np.zeros(0, dtype=np.float32), limit,
                                   nprobe, exact, rescore, oversampling,
                                   with_payload, with_vectors, probe_sigmas,
                                   score_threshold, _filter_proto(filter),
                                   offset)
        _add_examples(req.positive_ids, req.positive_vectors, positive)
        _add_examples(req.negative_ids, req.negative_vectors, negative)
        req.strategy = strategies[strategy]
        return [ScoredPoint.from_proto(p)
                for p in self._call(self._points.Search, req).points]

    def search_groups(self, name: str, vector: VectorLike, group_by: str,
                      limit: int = 10, group_size: int = 1, *,
                      nprobe: int = 0, exact: bool = False,
                      rescore: bool = False, oversampling: float = 0.0,
                      with_payload: PayloadLike = True,
                      with_vectors: bool = False,
                      score_threshold: Optional[float] = None,
                      filter: FilterLike = None,
                      probe_sigmas: float = 0.0) -> List[PointGroup]:
        """The best `limit` groups of points near `vector` that share a
        value (str or int) at the payload key `group_by`, best group first,
        each with its best `group_size` hits (Qdrant's search_groups). The
        other arguments as in search()."""
        req = _search_request(name, _one_vector(vector), limit, nprobe,
                                   exact, rescore, oversampling, with_payload,
                                   with_vectors, probe_sigmas, score_threshold,
                                   _filter_proto(filter), 0)
        req.group_by = group_by
        req.group_size = group_size
        return [PointGroup.from_proto(g)
                for g in self._call(self._points.Search, req).groups]

    def search_batch(self, name: str, vectors: Optional[np.ndarray],
                     limit: int = 10, *,
                     nprobe: int = 0, exact: bool = False,
                     rescore: bool = False, oversampling: float = 0.0,
                     with_payload: PayloadLike = True,
                     with_vectors: bool = False,
                     score_threshold: Optional[float] = None,
                     filter: FilterLike = None, probe_sigmas: float = 0.0,
                     offset: int = 0, texts: Optional[Sequence[str]] = None,
                     fusion: str = "rrf", formula: Any = None,
                     defaults: Optional[Mapping[str, Any]] = None,
                     prefetch_limit: int = 0) -> List[List[ScoredPoint]]:
        """search() for each row of `vectors` (n, dim) in one call, run in
        parallel on the server; one list of hits per row (the filter, if
        any, evaluated once for all). texts (bm25): a query text for each
        row, a hybrid search fused by `fusion`; with vectors None, BM25
        searches of the texts alone. formula, defaults, prefetch_limit: as
        search()'s, the same for every row (each such search then runs on
        its own on the server)."""
        if vectors is None:
            if texts is None:
                raise ValueError("give vectors, texts or both")
            rows = [np.zeros(0, dtype=np.float32)] * len(texts)
        else:
            rows = list(_matrix(vectors))
        if texts is not None and len(texts) != len(rows):
            raise ValueError("%d texts for %d vectors" % (len(texts), len(rows)))
        fused = _fusion_proto(fusion)
        f = _filter_proto(filter)
        req = ppb.SearchBatchRequest(collection=name, searches=[
            _search_request("", row, limit, nprobe, exact, rescore,
                                 oversampling, with_payload, with_vectors,
                                 probe_sigmas, score_threshold, f, offset)
            for row in rows])
        one = _formula_proto(formula, defaults)
        for i, s in enumerate(req.searches):
            if texts is not None:
                s.text = texts[i]
                if vectors is not None:
                    s.fusion = fused
            if one is not None:
                s.formula.CopyFrom(one)
            if one is not None or (texts is not None and vectors is not None):
                s.prefetch_limit = prefetch_limit
        r = self._call(self._points.SearchBatch, req)
        return [[ScoredPoint.from_proto(p) for p in res.points]
                for res in r.results]

    # ----------------------------------------------------------- snapshots

    def create_snapshot(self, collection: str = "") -> str:
        """A snapshot (RocksDB checkpoint) of one collection, or of the whole
        database; returns its path on the server."""
        req = spb.CreateSnapshotRequest(collection=collection)
        return self._call(self._snapshots.Create, req).path

    def list_snapshots(self) -> List[str]:
        """The names of the server's snapshots, oldest first."""
        resp = self._call(self._snapshots.List, spb.ListSnapshotsRequest())
        return [s.name for s in resp.snapshots]

    def delete_snapshot(self, name: str) -> None:
        """Deletes a snapshot by name (list_snapshots, or the last part of
        create_snapshot's path); tqdb_client.Error NOT_FOUND if absent."""
        self._call(self._snapshots.Delete,
                   spb.DeleteSnapshotRequest(name=name))
