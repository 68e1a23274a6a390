"""Filters in Qdrant's JSON syntax (as a dict), the one `tqdb search
--filter` and the REST API take, to tqdb.v1.Filter:

    {"must": [{"key": "section", "match": {"value": "libs"}},
              {"key": "installed_size_kb", "range": {"lt": 1000}}],
     "must_not": [{"key": "tags", "match": {"any": ["role::doc"]}}]}

Conditions: {"key": K, "match": {"value": V}} (a string, integer or bool),
{"key": K, "match": {"any": [...]}} and {"key": K, "match": {"except":
[...]}} (strings or integers), {"key": K, "match": {"text": "words"}} (the
field's strings hold every word) and {"key": K, "match": {"text_any":
"words"}} (some word), {"key": K, "range": {"gt"/"gte"/"lt"/"lte": x}}
(numbers, or RFC 3339 datetime strings: "2024-03-01T12:00:00Z"),
{"key": K, "geo_radius": {"center": {"lon": x, "lat": y}, "radius": m}},
{"key": K, "geo_bounding_box": {"top_left": P, "bottom_right": P}},
{"key": K, "geo_polygon": {"exterior": {"points": [P, ...]}, "interiors":
[{"points": [...]}]}}, {"key": K, "values_count": {"gte": n}},
{"nested": {"key": K, "filter": F}} (some element of the array at K
matches F, its keys read in the element), {"is_empty": {"key": K}}, {"is_null": {"key": K}}, {"has_id": [ids]}, or a
nested filter. A clause may be one condition instead of a list;
min_should is a count or {"conditions": [...], "min_count": n}.

Shape errors raise ValueError naming the place ("must[1].range.gt: expected
a number"); the server checks the rest (index types, depth, sizes) and
answers INVALID_ARGUMENT naming the place the same way.
"""
from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Mapping, Union

from tqdb.v1 import points_pb2 as pb

FilterLike = Union[Mapping[str, Any], "pb.Filter", None]

_CLAUSES = ("must", "should", "must_not")


def to_proto(f: FilterLike) -> "pb.Filter":
    """A tqdb.v1.Filter from a dict in Qdrant's syntax (or a pb.Filter as
    it is)."""
    if isinstance(f, pb.Filter):
        return f
    out = pb.Filter()
    _fill(f, out, "")
    return out


def _bad(at: str, why: str) -> ValueError:
    return ValueError("%s%s" % (at + ": " if at else "", why))


def _is_int(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _fill(f: Any, out: "pb.Filter", at: str) -> None:
    if not isinstance(f, Mapping):
        raise _bad(at, "expected a filter object")
    for k, v in f.items():
        where = at + "." + k if at else k
        if k in _CLAUSES:
            items = v if isinstance(v, list) else [v]
            for i, c in enumerate(items):
                _condition(c, getattr(out, k).add(), "%s[%d]" % (where, i))
        elif k == "min_should":
            if _is_int(v) and v >= 0:
                out.min_should = int(v)
            elif isinstance(v, Mapping) and set(v) == {"conditions",
                                                       "min_count"}:
                # Qdrant's form: its own nested filter, added to must.
                nested = out.must.add().filter
                for i, c in enumerate(v["conditions"]):
                    _condition(c, nested.should.add(),
                               "%s.conditions[%d]" % (where, i))
                if not _is_int(v["min_count"]) or v["min_count"] < 0:
                    raise _bad(where + ".min_count",
                               "expected a non-negative integer")
                nested.min_should = int(v["min_count"])
            else:
                raise _bad(where, "expected a count or {conditions, "
                           "min_count}")
        else:
            raise _bad(where, "unknown key (expected must, should, must_not "
                       "or min_should)")


def _values(v: Any, out: "pb.MatchValues", at: str) -> None:
    if not isinstance(v, list):
        raise _bad(at, "expected a list")
    if all(isinstance(x, str) for x in v):
        out.keywords.extend(v)
    elif all(_is_int(x) for x in v):
        out.integers.extend(int(x) for x in v)
    else:
        raise _bad(at, "expected a list of strings or of integers")


_FIELD_OPS = ("match", "range", "geo_radius", "geo_bounding_box",
              "geo_polygon", "values_count")


def _point(p: Any, out: "pb.GeoPoint", at: str) -> None:
    if not isinstance(p, Mapping) or set(p) != {"lon", "lat"}:
        raise _bad(at, 'expected {"lon": .., "lat": ..}')
    for k in ("lon", "lat"):
        if isinstance(p[k], bool) or not isinstance(p[k], Real):
            raise _bad(at + "." + k, "expected a number")
        setattr(out, k, float(p[k]))


def _ring(r: Any, out: "pb.GeoLineString", at: str) -> None:
    if not isinstance(r, Mapping) or set(r) != {"points"} or \
            not isinstance(r["points"], list):
        raise _bad(at, 'expected {"points": [...]}')
    for i, p in enumerate(r["points"]):
        _point(p, out.points.add(), "%s.points[%d]" % (at, i))


def _geo(op: str, g: Any, field: "pb.FieldCondition", at: str) -> None:
    """Shapes only; the server checks ranges of coordinates and rings."""
    keys = {"geo_radius": {"center", "radius"},
            "geo_bounding_box": {"top_left", "bottom_right"},
            "geo_polygon": {"exterior", "interiors"}}[op]
    if not isinstance(g, Mapping):
        raise _bad(at, "expected an object")
    for k in g:
        if k not in keys:
            raise _bad(at + "." + k, "unknown key")
    if op == "geo_radius":
        if "center" not in g or "radius" not in g:
            raise _bad(at, "expected center and radius")
        _point(g["center"], field.geo_radius.center, at + ".center")
        r = g["radius"]
        if isinstance(r, bool) or not isinstance(r, Real):
            raise _bad(at + ".radius", "expected meters")
        field.geo_radius.radius = float(r)
    elif op == "geo_bounding_box":
        if set(g) != keys:
            raise _bad(at, "expected top_left and bottom_right")
        _point(g["top_left"], field.geo_bounding_box.top_left,
               at + ".top_left")
        _point(g["bottom_right"], field.geo_bounding_box.bottom_right,
               at + ".bottom_right")
    else:
        if "exterior" not in g:
            raise _bad(at, "expected exterior")
        _ring(g["exterior"], field.geo_polygon.exterior, at + ".exterior")
        interiors = g.get("interiors") or []
        if not isinstance(interiors, list):
            raise _bad(at + ".interiors", "expected a list of rings")
        for i, r in enumerate(interiors):
            _ring(r, field.geo_polygon.interiors.add(),
                  "%s.interiors[%d]" % (at, i))


def _condition(c: Any, out: "pb.Condition", at: str) -> None:
    if not isinstance(c, Mapping):
        raise _bad(at, "expected a condition object")
    if "key" in c:
        key = c["key"]
        if not isinstance(key, str):
            raise _bad(at + ".key", "expected a string")
        extra = set(c) - {"key"} - set(_FIELD_OPS)
        if extra:
            raise _bad(at + "." + sorted(extra)[0], "unknown key")
        ops = [op for op in _FIELD_OPS if op in c]
        if len(ops) != 1:
            raise _bad(at, "a field condition needs one of %s" %
                       ", ".join(_FIELD_OPS))
        field = out.field
        field.key = key
        if ops[0] in ("geo_radius", "geo_bounding_box", "geo_polygon"):
            _geo(ops[0], c[ops[0]], field, "%s.%s" % (at, ops[0]))
        elif ops[0] == "values_count":
            r = c["values_count"]
            if not isinstance(r, Mapping) or not r:
                raise _bad(at + ".values_count",
                           "expected gt, gte, lt or lte")
            for op, v in r.items():
                where = "%s.values_count.%s" % (at, op)
                if op not in ("gt", "gte", "lt", "lte"):
                    raise _bad(where, "unknown operator")
                if v is None:
                    continue
                if not _is_int(v) or v < 0:
                    raise _bad(where, "expected a count (an integer >= 0)")
                setattr(field.values_count, op, int(v))
        elif "match" in c:
            m = c["match"]
            if not isinstance(m, Mapping) or len(m) != 1:
                raise _bad(at + ".match", "expected one of value, any, "
                           "except, text, text_any")
            (op, v), = m.items()
            where = "%s.match.%s" % (at, op)
            if op == "value":
                if isinstance(v, bool):
                    field.match.value.boolean = v
                elif _is_int(v):
                    field.match.value.integer = int(v)
                elif isinstance(v, str):
                    field.match.value.keyword = v
                else:
                    raise _bad(where, "expected a string, integer or bool")
            elif op == "any":
                _values(v, field.match.any, where)
            elif op == "except":
                _values(v, getattr(field.match, "except"), where)
            elif op in ("text", "text_any"):
                if not isinstance(v, str):
                    raise _bad(where, "expected a string")
                setattr(field.match, op, v)
            else:
                raise _bad(at + ".match." + op, "unknown operator")
        else:
            r = c["range"]
            if not isinstance(r, Mapping) or not r:
                raise _bad(at + ".range", "expected gt, gte, lt or lte")
            # Strings: a range of datetimes (RFC 3339; the server checks
            # them).
            datetimes = any(isinstance(v, str) for v in r.values())
            for op, v in r.items():
                where = "%s.range.%s" % (at, op)
                if op not in ("gt", "gte", "lt", "lte"):
                    raise _bad(where, "unknown operator")
                if v is None:
                    continue
                if datetimes:
                    if not isinstance(v, str):
                        raise _bad(where, "expected a datetime string like "
                                   "the others")
                    setattr(field.datetime_range, op, v)
                    continue
                if isinstance(v, bool) or not isinstance(v, Real):
                    raise _bad(where, "expected a number")
                setattr(field.range, op, float(v))
        return
    if "is_empty" in c or "is_null" in c:
        op = "is_empty" if "is_empty" in c else "is_null"
        v = c[op]
        if len(c) != 1 or not isinstance(v, Mapping) or \
                not isinstance(v.get("key"), str):
            raise _bad(at + "." + op, 'expected {"key": "..."}')
        getattr(out, op).key = v["key"]
        return
    if "nested" in c:
        n = c["nested"]
        if len(c) != 1 or not isinstance(n, Mapping) or \
                set(n) != {"key", "filter"} or not isinstance(n["key"], str):
            raise _bad(at + ".nested", 'expected {"key": "...", "filter": '
                       '{...}}')
        out.nested.key = n["key"]
        _fill(n["filter"], out.nested.filter, at + ".nested.filter")
        return
    if "has_id" in c:
        ids = c["has_id"]
        if len(c) != 1 or not isinstance(ids, list) or \
                not all(_is_int(i) and i >= 0 for i in ids):
            raise _bad(at + ".has_id", "expected a list of ids")
        out.has_id.has_id.extend(int(i) for i in ids)
        return
    if set(c) <= set(_CLAUSES) | {"min_should"} and c:
        _fill(c, out.filter, at)
        return
    raise _bad(at, "unknown condition (expected key, is_empty, is_null, "
               "has_id, nested or a nested filter)")
