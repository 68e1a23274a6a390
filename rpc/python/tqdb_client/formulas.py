"""Score formulas in Qdrant's JSON syntax (as a dict), the one the REST API
and `tqdb search --formula` take, to tqdb.v1.Formula:

    {"sum": ["$score",
             {"mult": [0.5, {"key": "tag", "match": {"any": ["h1", "h2"]}}]},
             {"gauss_decay": {"x": {"geo_distance": {
                 "origin": {"lat": 52.5, "lon": 13.4}, "to": "location"}},
                 "scale": 5000}}]}

An expression is a number, "$score" (the point's search score), a payload
key (its number), a filter condition (1 where it holds, else 0; as in
tqdb_client.filters), or one of {"mult": [...]}, {"sum": [...]}, {"neg": e},
{"abs": e}, {"sqrt": e}, {"exp": e}, {"log10": e}, {"ln": e}, {"div":
{"left": e, "right": e, "by_zero_default": x}}, {"pow": {"base": e,
"exponent": e}}, {"geo_distance": {"origin": {"lat", "lon"}, "to": key}}
(meters), {"datetime": "2024-03-01T00:00:00Z"}, {"datetime_key": key}
(epoch seconds), {"exp_decay" | "gauss_decay" | "lin_decay": {"x": e,
"target": e, "scale": s, "midpoint": m}}. defaults: {key: value} for points
without a value at a key.

Shape errors raise ValueError naming the place ("formula.sum[1].div: needs
left and right"); the server checks the rest and names the point where a
value is missing.
"""
from __future__ import annotations

from numbers import Real
from typing import Any, Mapping, Optional

from google.protobuf import struct_pb2  # noqa: F401 (defaults' Value)

from tqdb.v1 import points_pb2 as pb
from tqdb_client import filters

_UNARY = ("neg", "abs", "sqrt", "exp", "log10", "ln")
_DECAYS = ("exp_decay", "gauss_decay", "lin_decay")


def _bad(at: str, why: str) -> ValueError:
    return ValueError("%s: %s" % (at, why))


def _number(v: Any, at: str) -> float:
    if isinstance(v, bool) or not isinstance(v, Real):
        raise _bad(at, "expected a number")
    return float(v)


def _members(v: Any, at: str, allowed: tuple, needed: tuple) -> None:
    if not isinstance(v, Mapping):
        raise _bad(at, "expected an object")
    for k in v:
        if k not in allowed:
            raise _bad(at, "unknown member %r" % (k,))
    for k in needed:
        if k not in v:
            raise _bad(at, "needs %s" % " and ".join(needed))


def _expression(e: Any, out: "pb.Expression", at: str) -> None:
    if isinstance(e, bool):
        raise _bad(at, "expected a number, a string or an expression object")
    if isinstance(e, Real):
        out.constant = float(e)
        return
    if isinstance(e, str):
        out.variable = e
        return
    if not isinstance(e, Mapping):
        raise _bad(at, "expected a number, a string or an expression object")
    if len(e) == 1:
        (name, v), = e.items()
        here = "%s.%s" % (at, name)
        if name in ("mult", "sum"):
            if not isinstance(v, list):
                raise _bad(here, "expected a list of expressions")
            xs = getattr(out, name)
            xs.SetInParent()
            for i, x in enumerate(v):
                _expression(x, xs.expressions.add(), "%s[%d]" % (here, i))
            return
        if name in _UNARY:
            _expression(v, getattr(out, name), here)
            return
        if name == "div":
            _members(v, here, ("left", "right", "by_zero_default"),
                     ("left", "right"))
            _expression(v["left"], out.div.left, here + ".left")
            _expression(v["right"], out.div.right, here + ".right")
            if v.get("by_zero_default") is not None:
                out.div.by_zero_default = _number(v["by_zero_default"],
                                                  here + ".by_zero_default")
            return
        if name == "pow":
            _members(v, here, ("base", "exponent"), ("base", "exponent"))
            _expression(v["base"], out.pow.base, here + ".base")
            _expression(v["exponent"], out.pow.exponent, here + ".exponent")
            return
        if name == "geo_distance":
            _members(v, here, ("origin", "to"), ("origin", "to"))
            o = v["origin"]
            _members(o, here + ".origin", ("lat", "lon"), ("lat", "lon"))
            out.geo_distance.origin.lat = _number(o["lat"], here + ".origin.lat")
            out.geo_distance.origin.lon = _number(o["lon"], here + ".origin.lon")
            if not isinstance(v["to"], str):
                raise _bad(here + ".to", "expected a string")
            out.geo_distance.to = v["to"]
            return
        if name in ("datetime", "datetime_key"):
            if not isinstance(v, str):
                raise _bad(here, "expected a string")
            setattr(out, name, v)
            return
        if name in _DECAYS:
            _members(v, here, ("x", "target", "scale", "midpoint"), ("x",))
            d = getattr(out, name)
            _expression(v["x"], d.x, here + ".x")
            if v.get("target") is not None:
                _expression(v["target"], d.target, here + ".target")
            for k in ("scale", "midpoint"):
                if v.get(k) is not None:
                    setattr(d, k, _number(v[k], "%s.%s" % (here, k)))
            return
    filters._condition(e, out.condition, at)


def to_proto(formula: Any, defaults: Optional[Mapping[str, Any]],
             out: "pb.Formula") -> None:
    """Fills `out` from a formula expression and its defaults."""
    _expression(formula, out.expression, "formula")
    for key, value in (defaults or {}).items():
        if not isinstance(key, str):
            raise _bad("defaults", "keys are payload keys (strings)")
        try:
            _set_value(out.defaults[key], value)
        except (TypeError, ValueError) as e:
            raise _bad("defaults[%r]" % (key,), str(e)) from None


def _set_value(v: "struct_pb2.Value", value: Any) -> None:
    if isinstance(value, Mapping):
        v.struct_value.update(value)
    elif isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, Real):
        v.number_value = float(value)
    elif isinstance(value, str):
        v.string_value = value
    else:
        raise ValueError("expected a number, a string or a geo point object")
