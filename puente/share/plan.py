"""Export planning: pure functions from an agreement to what a bundle carries, with no store and no node.

For each kind, :func:`plan_kind` decides which records (the agreement's filters, as SQL predicates naming
their clause), which fields (the allow-list: fields not listed, dropped and ``match_only`` fields never
appear), and which transform each field gets, as one SQL expression per output column over the kind's
table ``t`` (and small lookup tables for generalised places). :func:`row_hash_sql` is the content hash of
a transformed row, computed once by the engine and carried, signed, in the bundle. The commit
(:mod:`puente.share.export`) runs the plan on the store in a few set-based statements.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import h3
import pyarrow as pa

from puente.geo.gazetteer import load_gazetteer
from puente.model import PLACE_COLUMNS, load_model
from puente.model.types import arrow_type
from puente.share.agreement import Agreement, FieldRule
from puente.store.base import Dialect

ALWAYS = ("id", "owner_node", "source_agency")
HASH_COLUMN = "row_hash"  # the signed row hash each bundle part carries (absent from bundles before 2026-11)
_LOOKUP_COLUMNS = {"admin2": ("id", "name", "admin1", "lat", "lon", "h3"), "h3": ("h3", "lat", "lon")}


@dataclass(frozen=True)
class Lookup:
    """A small table mapping each distinct value of ``source`` (a column of the kind) to a generalised place."""

    alias: str
    source: str
    to: str  # "admin2" (county / municipality from the gazetteer) or "h3" (the parent cell)
    resolution: int = 0

    def rows(self, values: list[str]) -> pa.Table:
        """The lookup's rows for ``values`` (distinct, non-null), computed once per value."""
        cols: dict[str, list[Any]] = {c: [] for c in ("k", *_LOOKUP_COLUMNS[self.to])}
        gaz = load_gazetteer() if self.to == "admin2" else None
        for value in values:
            if gaz is not None:
                place = gaz.get(value)
                county = gaz.get(place.admin2) if place and place.admin2 else None
                got = tuple(getattr(county, c) for c in _LOOKUP_COLUMNS["admin2"]) if county else None
            else:
                parent = str(h3.cell_to_parent(value, self.resolution))
                got = (parent, *h3.cell_to_latlng(parent))
            if got is not None:
                cols["k"].append(value)
                for c, v in zip(_LOOKUP_COLUMNS[self.to], got):
                    cols[c].append(v)
        return pa.table({c: pa.array(v, arrow_type(PLACE_COLUMNS.get(c, "TEXT"))) for c, v in cols.items()})

    def ddl(self, dialect: Dialect) -> str:
        cols = ", ".join(f"{c} {dialect.ddl_type(PLACE_COLUMNS.get(c, 'TEXT'))}" for c in ("k", *_LOOKUP_COLUMNS[self.to]))
        return f"CREATE TEMPORARY TABLE {self.alias} ({cols})"


@dataclass(frozen=True)
class Predicate:
    clause: str
    sql: str  # never NULL: a record with a missing value fails the filter
    params: tuple[Any, ...]


@dataclass(frozen=True)
class KindPlan:
    kind: str
    columns: tuple[tuple[str, str], ...]  # (output column, SQL expression)
    filters: tuple[Predicate, ...]
    lookups: tuple[Lookup, ...]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def where(self) -> tuple[str, list[Any]]:
        """The filters as one condition (TRUE when there are none) and its parameters."""
        if not self.filters:
            return "TRUE", []
        return " AND ".join(f"({p.sql})" for p in self.filters), [v for p in self.filters for v in p.params]

    def denied_sql(self) -> tuple[str, list[Any]]:
        """One SELECT list counting, per filter, the records it denies that every earlier filter allowed."""
        parts, params = [], []
        for i, p in enumerate(self.filters):
            before = self.filters[:i]
            cond = " AND ".join([f"({b.sql})" for b in before] + [f"NOT ({p.sql})"])
            parts.append(f"COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)")
            params += [v for b in before for v in b.params] + list(p.params)
        return ", ".join(parts), params


def pseudonym_key(id_key: bytes, agreement_id: str) -> bytes:
    """The per-agreement HMAC key for pseudonyms (secret to the sending node)."""
    return hmac.new(id_key, b"puente-pseudonym\x1f" + agreement_id.encode(), hashlib.sha256).digest()


def hmac_sql(dialect: Dialect, key: bytes, text_sql: str) -> str:
    """HMAC-SHA256 (RFC 2104) of a text expression, in hex, as SQL: H(K^opad || H(K^ipad || m))."""
    block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in block).hex()
    opad = bytes(b ^ 0x5C for b in block).hex()
    inner = dialect.sha256_hex(f"{dialect.hex_bytes(repr(ipad))} || {dialect.utf8(text_sql)}")
    return dialect.sha256_hex(f"{dialect.hex_bytes(repr(opad))} || {dialect.hex_bytes(inner)}")


def _null(dialect: Dialect, sql_type: str) -> str:
    return f"CAST(NULL AS {dialect.ddl_type(sql_type)})"


def _place(rule: FieldRule, dialect: Dialect, alias: str) -> tuple[list[tuple[str, str]], Lookup | None]:
    name = rule.field
    if rule.transform == "keep":
        return [(f"{name}_{s}", f"t.{name}_{s}") for s in PLACE_COLUMNS], None
    if rule.options["to"] == "admin2":
        lookup = Lookup(alias, f"{name}_id", "admin2")
    else:
        lookup = Lookup(alias, f"{name}_h3", "h3", int(rule.options["resolution"]))
    kept = {"country"} | ({"admin1"} if lookup.to == "h3" else set())
    cols = []
    for s, sql_type in PLACE_COLUMNS.items():
        if s in kept:
            expr = f"t.{name}_{s}"
        elif s in _LOOKUP_COLUMNS[lookup.to]:
            expr = f"{alias}.{s}"
        else:
            expr = _null(dialect, sql_type)
        cols.append((f"{name}_{s}", expr))
    return cols, lookup


def _value(rule: FieldRule, dialect: Dialect, sql_type: str, key: bytes) -> str:
    col = f"t.{rule.field}"
    if rule.transform == "truncate_date":
        return f"CAST(date_trunc('{'week' if rule.options['to'] == 'week' else 'month'}', {col}) AS DATE)"
    if rule.transform == "round":
        step = repr(float(rule.options["step"]))
        return (f"CAST(floor(CAST({col} AS DOUBLE PRECISION) / {step} + 0.5) * {step} "
                f"AS {dialect.ddl_type(sql_type)})")
    if rule.transform == "pseudonymize":
        return f"'ps:' || substr({hmac_sql(dialect, key, f'CAST({col} AS TEXT)')}, 1, 32)"
    return col


def _column(alias: str) -> Any:
    return lambda name: f"{alias}.{name}"


def _predicate(f: Any, column: Any = _column("t")) -> Predicate:
    col = column(f.column)
    if f.op in ("in", "not_in"):
        values = tuple(f.value)
        marks = ", ".join("?" for _ in values)
        test = f"{col} {'NOT ' if f.op == 'not_in' else ''}IN ({marks})"
    else:
        values = (f.value,)
        test = f"{col} {'>=' if f.op == 'from' else '<='} ?"
    return Predicate(f.clause, f"{col} IS NOT NULL AND COALESCE({test}, FALSE)", values)


def plan_kind(agreement: Agreement, kind: str, dialect: Dialect, key: bytes) -> KindPlan:
    """Which records, which fields and which transforms ``agreement`` gives ``kind``. ``key`` is the
    pseudonym key (:func:`pseudonym_key`)."""
    columns = [(c, f"t.{c}") for c in ALWAYS]
    lookups: list[Lookup] = []
    for name, field in load_model().kind(kind).fields.items():
        rule = agreement.field_rule(kind, name)
        if rule.transform in ("drop", "match_only"):
            continue
        if field.type == "place":
            cols, lookup = _place(rule, dialect, f"share_lookup_{len(lookups)}")
            columns += cols
            lookups += [lookup] if lookup else []
            continue
        sql_type = field.columns()[name]
        columns.append((name, _value(rule, dialect, sql_type, key)))
    filters = record_predicates(agreement, kind, _column("t"))
    return KindPlan(kind, tuple(columns), filters, tuple(lookups))


def record_predicates(agreement: Agreement, kind: str, column: Any) -> tuple[Predicate, ...]:
    """The records of ``kind`` the agreement shares, as SQL conditions over ``column(name)``: its filters,
    and for a field naming another record by id (a link's ``from_id``, schema.yaml ``refers``), that the
    record is one the agreement shares too (same owner, a kind of the agreement, its filters) — a link to a
    record the partner does not get would tell it that the record exists and who is tied to it."""
    preds = [_predicate(f, column) for f in agreement.filters(kind)]
    model = load_model()
    for name, field in model.kind(kind).fields.items():
        if not (field.refers and field.derived):
            continue
        alternatives, params = [], []
        for end in agreement.kinds():
            inner = [_predicate(f, _column("e")) for f in agreement.filters(end)]
            conds = " AND ".join([f"e.owner_node = {column('owner_node')}", *(f"({p.sql})" for p in inner)])
            alternatives.append(f"({column(field.refers)} = ? AND {column(name)} IN "
                                f"(SELECT e.id FROM {model.kind(end).table} e WHERE {conds}))")
            params += [end, *(v for p in inner for v in p.params)]
        preds.append(Predicate(f"kinds.{kind} ({name}: a record the agreement shares)",
                               f"{column(name)} IS NOT NULL AND ({' OR '.join(alternatives) or 'FALSE'})",
                               tuple(params)))
    return tuple(preds)


def row_hash_sql(dialect: Dialect, names: list[str], alias: str = "q") -> str:
    """The content hash of a transformed row (every column but the id), as SQL over ``alias``: what the partner
    holds, compared with what was sent before so only changes travel. A 64-bit engine hash
    (:meth:`Dialect.row_hash`): it only has to tell a record's new version from its old one (a miss is a
    2^-64 chance per change), and no adversary picks the input; integrity comes from the bundle's signature."""
    return dialect.row_hash([f"{alias}.{c}" for c in names if c != "id"])


def select_sql(plan: KindPlan, table: str) -> str:
    """The transformed rows (and their hash) as one SELECT over ``table`` aliased ``t``, before any WHERE."""
    exprs = ", ".join(f"{expr} AS {name}" for name, expr in plan.columns)
    joins = "".join(f" LEFT JOIN {lk.alias} ON {lk.alias}.k = t.{lk.source}" for lk in plan.lookups)
    return f"SELECT {exprs} FROM {table} t{joins}"
