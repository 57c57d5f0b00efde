"""What a received bundle part may carry: the agreement applied again, on the receiving side.

A partner signs its bundles, but the signature only says who sent them, not that they keep to the agreement:
a partner's operator controls its own node and can write any Parquet part. The receiver therefore reads
each part against the installed agreement version the bundle names, with the same rules the sender's
export plan reads (:meth:`Agreement.field_rule`, :func:`puente.share.plan.plan_kind`):

* a kind the agreement does not list is refused;
* a column the agreement does not give (a dropped or match-only field, a derived field tied to a withheld
  input, the place columns a generalisation nulls) must be absent or empty;
* every transformed value must be a fixed point of its transform: a date already the first of its month (or
  the Monday of its week), a number already a multiple of the rounding step, a pseudonym shaped like one
  (``ps:`` and 32 hex digits), a generalised place whose id, name, state, centre and cell are those the
  gazetteer (or H3) gives the county or cell it names — a finer value is what the agreement withholds;
* a record must pass the agreement's record filters on the columns the agreement carries unchanged.

:func:`problem` returns the first departure as a message (naming the kind, the column, how many values and
the clause), or None. The caller refuses the whole bundle: a node must not hold partner data beyond the
legal basis the agreement gives it, and a partial import would hide that the partner broke the terms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h3
import pyarrow as pa
import pyarrow.compute as pc

from puente.model import PLACE_COLUMNS, load_model
from puente.share.agreement import Agreement, FieldRule
from puente.share.plan import _LOOKUP_COLUMNS, ALWAYS, Lookup

_PSEUDONYM = "^ps:[0-9a-f]{32}$"


Refusal = tuple[str, dict[str, Any]]  # a message key (puente/share/messages.yaml) and its arguments


def problem(agreement: Agreement, kind: str, table: pa.Table, owners: pa.Array | pa.ChunkedArray) -> Refusal | None:
    """The first way ``table`` (one received part of ``kind``, whose records' owners are ``owners``) carries more
    than ``agreement`` gives, as a message key and its arguments, or None."""
    terms = {"agreement": f"{agreement.id} v{agreement.version}", "kind": kind}
    decision = agreement.decide_kind(kind)
    if not decision.allowed:
        return "bundle_kind_not_shared", {**terms, "count": f"{table.num_rows:,}", "clause": decision.clause}
    strays = _strays(table.column("id").cast(pa.string()), owners, kind) if "id" in table.column_names else 0
    if strays:
        return "bundle_foreign_namespace", {**terms, "count": f"{strays:,}"}
    checks, unchanged = _columns(agreement, kind)
    given = set(checks) | set(unchanged) | set(ALWAYS)
    stored = {c for f in load_model().kind(kind).fields.values() for c in f.columns()} | {"source_row"}
    for name in table.column_names:  # the receiver sets the other provenance columns itself; others are not stored
        if name in given or name not in stored:
            continue
        filled = table.num_rows - table.column(name).null_count
        if filled:
            return "bundle_column_not_shared", {**terms, "count": f"{filled:,}", "column": name,
                                                "clause": _clause(agreement, kind, name)}
    for name, (rule, check) in checks.items():
        if name in table.column_names:
            bad = check(table, name)
            if bad:
                return "bundle_value_finer", {**terms, "count": f"{bad:,}", "column": name, "clause": rule.clause,
                                              "rule": _describe(rule)}
    for f in agreement.filters(kind):
        if f.column in unchanged and f.column in table.column_names:
            failing = _failing(table.column(f.column), f.op, f.value)
            if failing:
                return "bundle_record_not_shared", {**terms, "count": f"{failing:,}",
                                                    "clause": f"{f.clause}: {f.column} {f.op} {f.value}"}
    return None


def _failing(values: pa.ChunkedArray, op: str, bound: Any) -> int:
    """Records a filter denies, as the export's SQL does: the bound in the column's type (a date written
    '2024-01-01' is a date), a missing value never passes."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    bounds = pa.array(list(bound) if op in ("in", "not_in") else [bound])
    try:
        bounds = bounds.cast(values.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # 10.5 against whole numbers: compare as the bound's type
        values = values.cast(bounds.type)
    if op in ("in", "not_in"):
        passes = pc.is_in(values, value_set=bounds)
        passes = pc.invert(passes) if op == "not_in" else passes
    else:
        passes = pc.greater_equal(values, bounds[0]) if op == "from" else pc.less_equal(values, bounds[0])
    passes = pc.and_(pc.is_valid(values), pc.fill_null(passes, False))
    return _count(pc.invert(passes))


def _strays(ids: pa.ChunkedArray, owners: pa.Array | pa.ChunkedArray, kind: str) -> int:
    """Records whose id does not start with ``<owner>:<kind>:`` (a missing id counts too)."""
    parts = pc.split_pattern(ids, ":", max_splits=2)
    named = pc.and_(pc.equal(pc.list_element(parts, 0), owners),
                    pc.and_(pc.equal(pc.list_element(parts, 1), kind), pc.equal(pc.list_value_length(parts), 3)))
    return _count(pc.invert(pc.fill_null(named, False)))


Check = Callable[[pa.Table, str], int]  # (part, column) -> how many non-null values the transform would change


def _columns(agreement: Agreement, kind: str) -> tuple[dict[str, tuple[FieldRule, Check]], set[str]]:
    """Per carried column: the rule and the check of a transformed one; and the set of columns carried as
    stored (no check)."""
    checks: dict[str, tuple[FieldRule, Check]] = {}
    unchanged: set[str] = set()
    for name, field in load_model().kind(kind).fields.items():
        rule = agreement.field_rule(kind, name)
        if rule.transform in ("drop", "match_only"):
            continue
        if field.type == "place":
            if rule.transform == "keep":
                unchanged |= {f"{name}_{s}" for s in PLACE_COLUMNS}
                continue
            to = rule.options["to"]
            unchanged |= {f"{name}_country"} | ({f"{name}_admin1"} if to == "h3" else set())
            key = f"{name}_id" if to == "admin2" else f"{name}_h3"
            lookup = Lookup("conform", key, to, int(rule.options.get("resolution", 0)))
            for s in _LOOKUP_COLUMNS[to]:
                checks[f"{name}_{s}"] = (rule, _place_check(lookup, key, s))
            continue
        if rule.transform == "keep":
            unchanged.add(name)
        else:
            checks[name] = (rule, _CHECKS[rule.transform](rule))
    return checks, unchanged


def _count(mask: Any) -> int:
    """How many values of a boolean array are true (nulls count as false)."""
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)


def _changed(values: pa.ChunkedArray, fixed: pa.ChunkedArray | pa.Array) -> int:
    """Non-null values that the transform moves."""
    return _count(pc.fill_null(pc.not_equal(values, fixed), False))


def _truncate(rule: FieldRule) -> Check:
    unit = "week" if rule.options["to"] == "week" else "month"

    def check(table: pa.Table, name: str) -> int:
        values = table.column(name).cast(pa.date32())
        floored = pc.floor_temporal(values.cast(pa.timestamp("s")), unit=unit, week_starts_monday=True)
        return _changed(values, floored.cast(pa.date32()))
    return check


def _round(rule: FieldRule) -> Check:
    step = float(rule.options["step"])

    def check(table: pa.Table, name: str) -> int:
        values = table.column(name).cast(pa.float64())
        fixed = pc.multiply(pc.floor(pc.add(pc.divide(values, step), 0.5)), step)
        off = pc.abs(pc.subtract(values, fixed))
        tolerance = pc.multiply(pc.max_element_wise(pc.abs(values), 1.0), 1e-9)
        return _count(pc.fill_null(pc.greater(off, tolerance), False))
    return check


def _pseudonym(rule: FieldRule) -> Check:
    def check(table: pa.Table, name: str) -> int:
        values = table.column(name).cast(pa.string())
        shaped = pc.match_substring_regex(values, _PSEUDONYM)
        return _count(pc.fill_null(pc.invert(shaped), False))
    return check


def _place_check(lookup: Lookup, key: str, part: str) -> Check:
    """The generalised place's ``part`` must be what the lookup gives the county / cell its key names (a
    finer place id, or another cell resolution, maps elsewhere or nowhere)."""
    def check(table: pa.Table, name: str) -> int:
        if key not in table.column_names:
            return int(table.num_rows - table.column(name).null_count)
        keys = table.column(key).cast(pa.string())
        distinct = pc.drop_null(pc.unique(keys))
        values = table.column(name)
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        wanted = pa.array([_generalised(lookup, k, part) for k in distinct.to_pylist()], values.type)
        expected = pc.take(wanted, pc.index_in(keys, value_set=distinct))  # null: the key names no place
        if pa.types.is_floating(values.type):
            same = pc.less_equal(pc.abs(pc.subtract(values, expected)), 1e-9)
        else:
            same = pc.equal(values, expected)
        moved = pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(same, False)))
        return _count(moved)
    return check


def _generalised(lookup: Lookup, key: str, part: str) -> Any:
    """What the generalisation gives the place ``key`` names, if ``key`` is already generalised; else None."""
    try:
        row = lookup.rows([key]).to_pylist()
    except (ValueError, TypeError, RuntimeError, h3.H3BaseException):  # not a cell, or coarser than the resolution
        return None
    if not row or row[0][_LOOKUP_COLUMNS[lookup.to][0]] != key:  # a finer place maps to another county / cell
        return None
    return row[0][part]


_CHECKS = {"truncate_date": _truncate, "round": _round, "pseudonymize": _pseudonym}


def _describe(rule: FieldRule) -> str:
    if rule.transform == "truncate_date":
        return f"truncate_date to {rule.options['to']}"
    if rule.transform == "round":
        return f"round to {rule.options['step']}"
    if rule.transform == "generalize_place":
        return f"generalize_place to {rule.options['to']}"
    return rule.transform


def _clause(agreement: Agreement, kind: str, column: str) -> str:
    fields = load_model().kind(kind).fields
    if column in fields:
        return agreement.field_rule(kind, column).clause
    for name, field in fields.items():
        if field.type == "place" and column.startswith(f"{name}_"):
            rule = agreement.field_rule(kind, name)
            return f"{rule.clause}: {_describe(rule)}"
    return "internal provenance: never in a bundle"
