"""The columnar ingest path: one CSV file as a table, cleaned per distinct value, finished in SQL.

Same results as the row path (``RowCleaner.clean`` per row, tested against it with hypothesis),
in a scratch in-process DuckDB database:

1. **Source rows → table** ``src(_row, c0..cN)``, all text (and ``raw_lines``: each row as written). A well-formed UTF-8 CSV (every
   record on one line with the header's column count, quotes only around whole cells, no NUL,
   bare CR, over-long line or blank line, checked in SQL over the lines) is split in the work
   DuckDB (:mod:`puente.ingest.fastcsv`: cells split by Arrow's C++ CSV reader, a line it does not read as
   the header's cell count by Python's ``csv`` module); any other CSV goes through the row reader (:mod:`puente.ingest.readers`: encodings,
   stray quotes, broken lines, all with their exact row numbers), whose good rows are loaded
   into the same table and whose broken rows go to quarantine. A row-producing pre-stage (e.g.
   a profile's ``melt``) feeds the table the same way: :meth:`Columnar.load_rows`.
2. **Cleaning per distinct value**: for each field, the distinct raw values (with the row's
   country for places) are cleaned once in Python by the row cleaner's own
   :meth:`~puente.ingest.clean.RowCleaner.field_outcome` and joined back: cleaned columns, the
   error of a required field, the issue of an optional one.
3. **Derived fields** (schema.yaml ``derive``): each derivation runs once per distinct
   combination of the columns it reads.
4. **In SQL**: the per-row error mask and the quarantine reasons (EN/ES, fields in model order),
   ``extra`` (JSON as ``json.dumps`` writes it), the content hash (SHA-256 of the ``repr`` of each
   value, as :func:`~puente.ingest.clean.content_hash`), the record id (HMAC-SHA256 written out
   with SHA-256, as :meth:`~puente.node.Node.record_id`), duplicates and identity conflicts within
   the file (the first row of an identity wins), and against the store (an anti-join).
5. The store gets the new records, field issues and quarantine rows in the caller's transaction.

A value whose Python type does not match its column's type (the ``repr`` would differ) raises
:class:`NotColumnar`: nothing has been written yet and the caller runs the row path instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import duckdb
import pyarrow as pa
from duckdb.func import PythonUDFType

from puente.ingest.clean import Rejection, RowCleaner
from puente.ingest.readers import RawRow
from puente.model import Kind

_CHUNK = 100_000
# rows per INSERT ... SELECT into a DuckDB store: four of DuckDB's row groups (122,880 rows), so that the write's
# two threads each fill whole row groups (with 100,000-row slices two threads cost twice the CPU of one)
WRITE_SLICE = 4 * 122_880


class NotColumnar(Exception):
    """This file (or value) is not handled by the columnar path; run the row path."""


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(i: int) -> str:
    return f"c{i}"


# a str whose repr is the text between single quotes: printable ASCII but ' and \, and printable Latin letters
_SAFE_REPR = r"[ !#-&(-\[\]-~\x{a1}-\x{ac}\x{ae}-\x{17f}]*"
# a str that json.dumps(ensure_ascii=False) writes between double quotes unchanged
_JSON_UNSAFE = r'[\x00-\x1f"\\]'
# a str that " ".join(s.split()) leaves unchanged: single ASCII spaces between non-space runs
_SPACE = "\\s\\x{1c}-\\x{1f}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{0b}"
_NORMAL_TEXT = f"[^{_SPACE}]+( [^{_SPACE}]+)*"


def _vectorized(fn: Callable[[str], str]) -> Callable[[pa.Array], pa.Array]:
    """A Python function over strings as an Arrow UDF (one call per vector, not per value)."""
    def udf(values: pa.Array) -> pa.Array:
        return pa.array([None if v is None else fn(v) for v in values.to_pylist()], pa.string())
    return udf


def _json_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


SCRATCH_MEMORY = "640MB"  # the columnar work's own buffers (with the store's 512 MB and Python: a 1M-row file < 2 GB)


def scratch(temp_dir: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to ``temp_dir`` past 640 MB (with the store and Python, a 1M-row file
    stays under 2 GB): where the work runs for a store that is not an in-process DuckDB."""
    con = duckdb.connect(config={"memory_limit": SCRATCH_MEMORY, "temp_directory": temp_dir})
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")  # every order that matters is explicit (_row)
    return con


@contextmanager
def python_functions(con: duckdb.DuckDBPyConnection,
                     specs: dict[str, tuple[Callable[[pa.Array], pa.Array], list[Any], str]]) -> Iterator[str]:
    """Python functions for the SQL (name -> (Arrow function, parameter types, return type)), registered under
    names of their own (a suffix, yielded) and removed afterwards: functions belong to the whole DuckDB
    database, which concurrent ingests may share, and one left behind after its connection closed crashes the
    process when it is called."""
    suffix = "_" + uuid.uuid4().hex[:12]
    made = []
    try:
        for name, (fn, params, returns) in specs.items():
            con.create_function(name + suffix, fn, params, returns, type=PythonUDFType.ARROW)
            made.append(name + suffix)
        yield suffix
    finally:
        for name in made:
            con.remove_function(name)


def functions(con: duckdb.DuckDBPyConnection) -> AbstractContextManager[str]:
    """The Python functions the columnar SQL calls (``py_repr``, ``py_json``; :func:`python_functions`)."""
    return python_functions(con, {"py_repr": (_vectorized(repr), ["VARCHAR"], "VARCHAR"),
                                  "py_json": (_vectorized(_json_text), ["VARCHAR"], "VARCHAR")})


def repr_sql(col: str, sql_type: str, suffix: str = "") -> str:
    """SQL giving ``repr()`` of the Python value that a column of this type holds (``suffix``: of the
    registered functions' names, :func:`functions`)."""
    if sql_type == "TEXT":
        return (f"CASE WHEN {col} IS NULL THEN 'None' WHEN regexp_full_match({col}, '{_SAFE_REPR}') "
                f"THEN '''' || {col} || '''' ELSE py_repr{suffix}({col}) END")
    if sql_type == "DOUBLE PRECISION":
        # DuckDB writes a double as Python's repr does (shortest round-trip digits, same exponent
        # forms, inf): checked on 300,000 random doubles of every magnitude
        return f"coalesce(CAST({col} AS VARCHAR), 'None')"
    if sql_type in ("BIGINT", "INTEGER"):
        return f"coalesce(CAST({col} AS VARCHAR), 'None')"
    if sql_type == "DATE":
        return (f"CASE WHEN {col} IS NULL THEN 'None' ELSE 'datetime.date(' || year({col}) || ', ' || "
                f"month({col}) || ', ' || day({col}) || ')' END")
    raise NotColumnar(sql_type)


def str_sql(col: str, sql_type: str, suffix: str = "") -> str:
    """SQL giving ``str()`` of the Python value (identity parts)."""
    if sql_type == "TEXT":
        return f"coalesce({col}, 'None')"
    if sql_type == "DATE":
        return f"coalesce(strftime({col}, '%Y-%m-%d'), 'None')"
    return repr_sql(col, sql_type, suffix)


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "TEXT": (str,), "DATE": (dt.date,), "DOUBLE PRECISION": (float,), "BIGINT": (int,), "INTEGER": (int,),
}


def _check_type(value: Any, sql_type: str) -> Any:
    """A value goes into the table only if it comes back as the same Python type (same repr)."""
    if value is None:
        return None
    types = _PY_TYPES.get(sql_type)
    if types is None or value.__class__ not in types or (sql_type == "DATE" and isinstance(value, dt.datetime)):
        raise NotColumnar(f"{sql_type}: {value!r}")
    return value


def _arrow_type(sql: str) -> pa.DataType:
    return {"TEXT": pa.string(), "DATE": pa.date32(), "DOUBLE PRECISION": pa.float64(), "BIGINT": pa.int64(),
            "INTEGER": pa.int32()}[sql]


class Columnar:
    """One file through the columnar path; see the module docstring."""

    def __init__(self, con: duckdb.DuckDBPyConnection, kind: Kind, cleaner: RowCleaner, headers: list[str],
                 suffix: str = "") -> None:
        self.con = con
        self.suffix = suffix  # of the Python functions' names (:func:`functions`)
        self.kind = kind
        self.cleaner = cleaner
        self.headers = headers
        self.col_of = {h: _ident(i) for i, h in enumerate(headers)}
        self.data_types = kind.data_columns()

    # -- loading rows produced in Python (the row reader, or a pre-stage such as melt) --------------
    def load_rows(self, rows: Iterable[RawRow], problem: Callable[[RawRow], None]) -> int:
        """Good rows go into ``src``; rows with a problem to ``problem``. Returns the rows seen."""
        names = ["_row", "_raw", *(_ident(i) for i in range(len(self.headers)))]
        schema = pa.schema([("_row", pa.int64()), ("_raw", pa.string()),
                            *((_ident(i), pa.string()) for i in range(len(self.headers)))])
        self.con.execute(f"CREATE TABLE src ({', '.join(f'{n} VARCHAR' if n != '_row' else '_row BIGINT' for n in names)})")
        seen = 0
        buffer: list[list[Any]] = [[] for _ in names]
        for row in rows:
            seen += 1
            if row.problem:
                problem(row)
                continue
            values = row.values
            if any(v is not None and v.__class__ is not str for v in values.values()):
                raise NotColumnar("non-text value")
            buffer[0].append(row.number)
            buffer[1].append(row.raw_text or json.dumps(values, ensure_ascii=False, default=str))
            for i, h in enumerate(self.headers):
                buffer[i + 2].append(values.get(h))
            if len(buffer[0]) >= _CHUNK:
                self._append(buffer, schema)
                buffer = [[] for _ in names]
        self._append(buffer, schema)
        self.con.execute("CREATE VIEW raw_lines AS SELECT _row, _raw FROM src")
        return seen

    def _append(self, buffer: list[list[Any]], schema: pa.Schema) -> None:
        if not buffer[0]:
            return
        table = pa.Table.from_arrays([pa.array(b, type=t) for b, t in zip(buffer, schema.types)], schema=schema)
        self.con.register("_incoming", table)
        self.con.execute("INSERT INTO src SELECT * FROM _incoming")
        self.con.unregister("_incoming")

    # -- cleaning -----------------------------------------------------------------------------------
    def _map(self, name: str, keys: list[str], compute: Callable[[tuple[Any, ...]], dict[str, Any]],
             out: dict[str, pa.DataType], source: str) -> None:
        """A table ``name`` of the distinct ``keys`` of ``source`` and ``compute``'s outputs for each."""
        key_arrays: list[pa.ChunkedArray] = []
        values: Iterable[tuple[Any, ...]] = [()]
        if keys:
            distinct = self.con.execute(f"SELECT DISTINCT {', '.join(keys)} FROM {source}").to_arrow_table()
            key_arrays = [distinct.column(k) for k in keys]
            values = zip(*(a.to_pylist() for a in key_arrays))
        columns: dict[str, list[Any]] = {o: [] for o in out}
        for value in values:
            result = compute(value)
            for o in out:
                columns[o].append(result.get(o))
        table = pa.Table.from_arrays([*key_arrays, *(pa.array(columns[o], type=t) for o, t in out.items())],
                                     names=[*keys, *out])
        self.con.register(f"_{name}", table)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _{name}")
        self.con.unregister(f"_{name}")

    def clean(self) -> None:
        """``cleaned``: src + every field's columns, the row's errors and issues."""
        cl = self.cleaner
        con = self.con
        # the row's country: its country column when that cleans, else the profile's
        country_header = cl._country_header
        country_col = self.col_of.get(country_header) if country_header is not None else None
        if country_header is not None and country_col:
            self._map("m_country", [country_col], lambda v: {"ctry": cl.row_country({country_header: v[0]})},
                      {"ctry": pa.string()}, "src")
            con.execute(f"CREATE VIEW s1 AS SELECT src.*, m.ctry AS _country FROM src LEFT JOIN m_country m "
                        f"ON src.{country_col} IS NOT DISTINCT FROM m.{country_col}")
        else:
            con.execute(f"CREATE VIEW s1 AS SELECT src.*, {_lit(cl.profile.country) if cl.profile.country else 'NULL'}"
                        f"::VARCHAR AS _country FROM src")
        selects = ["s1.*"]
        joins = []
        self.err_cols: list[tuple[str, str, str, str]] = []  # per field: (key, en, es, field name)
        self.issue_cols: list[tuple[str, str, str, str, str]] = []
        self.hash_parts: list[tuple[list[str], str]] = []  # (a field's columns, their reprs joined per distinct value)
        for n, (f, header, more, default) in enumerate(cl._plan):
            if more:
                raise NotColumnar("several headers name one field")
            raw_col = self.col_of[header] if header is not None else None
            place = f.type == "place"
            keys = ([raw_col] if raw_col else []) + (["_country"] if place else [])
            fcols = f.columns()
            out: dict[str, pa.DataType] = {c: _arrow_type(t) for c, t in fcols.items()}
            out.update({"ek": pa.string(), "een": pa.string(), "ees": pa.string(),
                        "ik": pa.string(), "ien": pa.string(), "ies": pa.string(), "iraw": pa.string()})

            def compute(values: tuple[Any, ...], f: Any = f, header: Any = header, default: Any = default,
                        raw_col: Any = raw_col, place: bool = place, fcols: dict[str, str] = fcols) -> dict[str, Any]:
                raw = values[0] if raw_col else None
                country = values[-1] if place else None
                cleaned, error, issue = cl.field_outcome(f, raw, default, country)
                result = {c: _check_type(cleaned.get(c), t) for c, t in fcols.items()}
                if error is not None:
                    result.update(ek=error.key, een=error.text("en"), ees=error.text("es"))
                if issue is not None:
                    result.update(ik=issue.key, ien=issue.text("en"), ies=issue.text("es"), iraw=_issue_raw(issue.raw))
                return result

            table = f"m_{n}"
            plain = f.name in cl._plain and raw_col is not None
            # free text already as " ".join(value.split()) leaves it is taken as it is, in SQL; only the
            # other distinct values (blank, odd spacing) go through the cleaner
            normal = f"regexp_full_match(coalesce(s1.{raw_col}, ''), '{_NORMAL_TEXT}')" if plain else ""
            self._map(table, keys, compute, out, f"(SELECT * FROM s1 WHERE NOT {normal})" if plain else "s1")
            # a column that no distinct value sets is a NULL constant, not a join's payload, and a plain
            # field none of whose values needed the cleaner is its raw column, without a join
            has = self._non_null(table, ["ek", "ik"])
            if plain and not self._rows(table):
                selects.append(f"s1.{raw_col} AS {f.name}")
            else:
                if keys:
                    on = " AND ".join(f"s1.{k} IS NOT DISTINCT FROM {table}.{k}" for k in keys)
                    joins.append(f"LEFT JOIN {table} ON {on}")
                else:
                    joins.append(f"CROSS JOIN {table}")
                if plain:
                    selects.append(f"CASE WHEN {normal} THEN s1.{raw_col} "
                                   f"ELSE {table}.{f.name} END AS {f.name}")
                else:
                    selects += [f"{table}.{c} AS {c}" for c in fcols]
                    # the content hash's part for these columns, once per distinct value (finish)
                    part = ", ".join(repr_sql(c, t, self.suffix) for c, t in fcols.items())
                    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT *, concat_ws(chr(31), {part}) AS _h "
                                f"FROM {table}")
                    selects.append(f"{table}._h AS h_{n}")
                    self.hash_parts.append((list(fcols), f"h_{n}"))
            selects += [f"{table}.{x} AS {x}_{n}" if has[x[0] + "k"] else f"NULL::VARCHAR AS {x}_{n}"
                        for x in ("ek", "een", "ees", "ik", "ien", "ies", "iraw")]
            self.err_cols.append((f"ek_{n}", f"een_{n}", f"ees_{n}", f.name))
            self.issue_cols.append((f"ik_{n}", f"ien_{n}", f"ies_{n}", f"iraw_{n}", f.name))
        produced = {c for f in cl.fields for c in f.columns()}
        _sqltype = {"TEXT": "VARCHAR", "DATE": "DATE", "DOUBLE PRECISION": "DOUBLE", "BIGINT": "BIGINT",
                    "INTEGER": "INTEGER"}
        selects += [f"NULL::{_sqltype[t]} AS {c}" for c, t in self.data_types.items() if c not in produced]
        con.execute(f"CREATE VIEW cleaned AS SELECT {', '.join(selects)} FROM s1 {' '.join(joins)}")
        # the rejection mask: errors in field order, then a require_any group left empty
        keys = [e[0] for e in self.err_cols]
        ens = [e[1] for e in self.err_cols]
        ess = [e[2] for e in self.err_cols]
        fields = [f"CASE WHEN {e[0]} IS NOT NULL THEN {_lit(e[3])} END" for e in self.err_cols]
        if cl._any_of:
            group = ", ".join(self.kind.require_any)
            rej = Rejection(group, "missing_any", {"fields": group})
            empty = " AND ".join(f"{c} IS NULL" for c in cl._any_of)
            keys.append(f"CASE WHEN {empty} THEN 'missing_any' END")
            ens.append(f"CASE WHEN {empty} THEN {_lit(rej.text('en'))} END")
            ess.append(f"CASE WHEN {empty} THEN {_lit(rej.text('es'))} END")
            fields.append(f"CASE WHEN {empty} THEN {_lit(group)} END")
        # a rejected row's reason also names its optional fields' invalid values (after the errors)
        ens += [i[1] for i in self.issue_cols]
        ess += [i[2] for i in self.issue_cols]
        fields += [f"CASE WHEN {i[0]} IS NOT NULL THEN {_lit(i[4])} END" for i in self.issue_cols]
        con.execute(f"""CREATE VIEW rows_c AS SELECT *,
            coalesce({', '.join(keys) or 'NULL'}) AS _qkey,
            nullif(concat_ws('; ', {', '.join(ens) or 'NULL'}), '') AS _qen,
            nullif(concat_ws('; ', {', '.join(ess) or 'NULL'}), '') AS _qes,
            nullif(concat_ws(', ', {', '.join(fields) or 'NULL'}), '') AS _qfield
            FROM cleaned""")
        self.rows = "rows_c"

    def derive(self) -> None:
        """Each derivation once per distinct combination of what it reads, on rows not rejected."""
        cl = self.cleaner
        con = self.con
        self.derive_issue_cols: list[tuple[str, str, str, str, str]] = []
        for n, d in enumerate(cl.derivations):
            cols = [c for c in dict.fromkeys((*d.reads, *d.writes)) if c in self.data_types]
            writes = [c for c in d.writes if c in self.data_types]
            raw_cols = {name: self.col_of[cl._header_of[name]] for name in d.raw if name in cl._header_of}
            keys = cols + list(raw_cols.values()) + (["_country"] if d.country else [])
            raw_at = {name: len(cols) + i for i, name in enumerate(raw_cols)}
            out: dict[str, pa.DataType] = {f"w_{c}": _arrow_type(self.data_types[c]) for c in writes}
            out.update({"dk": pa.string(), "den": pa.string(), "des": pa.string(), "ifield": pa.string(),
                        "ik": pa.string(), "ien": pa.string(), "ies": pa.string(), "iraw": pa.string()})

            def compute(values: tuple[Any, ...], d: Any = d, cols: list[str] = cols, writes: list[str] = writes,
                        raw_at: dict[str, int] = raw_at) -> dict[str, Any]:
                r = dict(zip(cols, values))
                country = values[-1] if d.country else None

                def raw(field_name: str) -> Any:
                    return values[raw_at[field_name]] if field_name in raw_at else None

                ctx = cl.derive_context(country, raw)
                from puente.model.types import Invalid

                try:
                    d.fn(r, ctx)
                except Invalid as exc:
                    rej = Rejection("", exc.key, exc.args_)
                    return {"dk": rej.key, "den": rej.text("en"), "des": rej.text("es")}
                if len(ctx.issues) > 1:
                    raise NotColumnar("a derivation gave more than one issue")
                result = {f"w_{c}": _check_type(r.get(c), self.data_types[c]) for c in writes}
                for issue in ctx.issues:
                    result.update(ifield=issue.field, ik=issue.key, ien=issue.text("en"), ies=issue.text("es"),
                                  iraw=_issue_raw(issue.raw))
                return result

            rows = self.rows
            source = f"(SELECT * FROM {rows} WHERE _qkey IS NULL)"
            self._map(f"d_{n}", keys, compute, out, source)
            on = " AND ".join(f"{rows}.{k} IS NOT DISTINCT FROM d_{n}.{k}" for k in keys) or "TRUE"
            replaced = ", ".join(f"CASE WHEN {rows}._qkey IS NULL AND d_{n}.dk IS NULL THEN d_{n}.w_{c} "
                                 f"ELSE {rows}.{c} END AS {c}" for c in writes)
            keep = ", ".join(f"{rows}.{c}" for c in self._columns_of(rows) if c not in writes)
            has = self._non_null(f"d_{n}", ["dk", "ik"])  # a column no combination sets: a NULL constant
            extra = ", ".join(f"d_{n}.{x} AS {y}_{n}" if has[k] else f"NULL::VARCHAR AS {y}_{n}" for x, y, k in (
                ("ifield", "difield", "ik"), ("ik", "dik", "ik"), ("ien", "dien", "ik"), ("ies", "dies", "ik"),
                ("iraw", "diraw", "ik"), ("dk", "ddk", "dk"), ("den", "dden", "dk"), ("des", "ddes", "dk")))
            con.execute(f"""CREATE VIEW rows_d{n} AS SELECT {keep}{', ' + replaced if replaced else ''}, {extra}
                FROM {rows} LEFT JOIN d_{n} ON {on}""")  # (a plain key join: a hash join)
            # a derivation's Invalid rejects the row (no field named); later derivations skip it
            con.execute(f"""CREATE VIEW rows_e{n} AS SELECT * REPLACE (
                    coalesce(_qkey, ddk_{n}) AS _qkey, CASE WHEN _qkey IS NULL THEN dden_{n} ELSE _qen END AS _qen,
                    CASE WHEN _qkey IS NULL THEN ddes_{n} ELSE _qes END AS _qes,
                    CASE WHEN _qkey IS NULL THEN NULL ELSE _qfield END AS _qfield) FROM rows_d{n}""")
            self.rows = f"rows_e{n}"
            self.derive_issue_cols.append((f"dik_{n}", f"dien_{n}", f"dies_{n}", f"diraw_{n}", f"difield_{n}"))
        if cl.strict and self.derive_issue_cols:
            # strict: an issue from a derivation rejects the row with its reason(s)
            iks = [c[0] for c in self.derive_issue_cols]
            con.execute(f"""CREATE VIEW rows_s AS SELECT * REPLACE (
                    coalesce(_qkey, {', '.join(iks)}) AS _qkey,
                    CASE WHEN _qkey IS NULL THEN nullif(concat_ws('; ', {', '.join(c[1] for c in self.derive_issue_cols)}), '')
                         ELSE _qen END AS _qen,
                    CASE WHEN _qkey IS NULL THEN nullif(concat_ws('; ', {', '.join(c[2] for c in self.derive_issue_cols)}), '')
                         ELSE _qes END AS _qes,
                    CASE WHEN _qkey IS NULL THEN nullif(concat_ws(', ', {', '.join(c[4] for c in self.derive_issue_cols)}), '')
                         ELSE _qfield END AS _qfield) FROM {self.rows}""")
            self.rows = "rows_s"
        con.execute(f"CREATE VIEW rows AS SELECT * FROM {self.rows}")

    def _columns_of(self, table: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]

    # -- hash, id, dedupe ---------------------------------------------------------------------------
    def finish(self, node_name: str, id_key: bytes) -> None:
        """``ok``: rows kept, with ``extra``, ``content_hash``, ``id`` and their fate in the file."""
        cl = self.cleaner
        con = self.con
        frags = []
        for h in cl.extra_headers:
            col = self.col_of[h]
            key = json.dumps(h, ensure_ascii=False)
            frags.append(f"CASE WHEN {col} IS NULL OR {col} = '' THEN NULL ELSE {_lit(key + ': ')} || "
                         f"CASE WHEN regexp_matches({col}, '{_JSON_UNSAFE}') THEN py_json{self.suffix}({col}) "
                         f"ELSE '\"' || {col} || '\"' END END")
        if frags:
            # once per row into a table, so that what reads ``all1`` calls no Python function: the store's own
            # connection writes the rows from it, and a function registered after its transaction began is
            # invisible to that transaction
            extra = f"nullif('{{' || concat_ws(', ', {', '.join(frags)}) || '}}', '{{}}')"
            con.execute(f"CREATE TABLE ext AS SELECT * FROM (SELECT _row, {extra} AS extra FROM src) WHERE extra IS NOT NULL")
            con.execute("CREATE VIEW all1 AS SELECT rows.*, ext.extra FROM rows LEFT JOIN ext USING (_row)")
        else:
            con.execute("CREATE VIEW all1 AS SELECT *, NULL::VARCHAR AS extra FROM rows")
        con.execute("CREATE VIEW ok1 AS SELECT * FROM all1 WHERE _qkey IS NULL")
        reprs = self._reprs()
        con.execute(f"CREATE VIEW all2 AS SELECT *, CASE WHEN _qkey IS NULL THEN "
                    f"sha256(concat_ws(chr(31), {', '.join(reprs)})) END AS content_hash FROM all1")
        fields = cl.identity_fields
        if fields:
            parts = []
            for f in fields:
                col = f if f in self.data_types or f == "extra" else f"{f}_text"
                parts.append(str_sql(col, self.data_types.get(col, "TEXT"), self.suffix))
            identity = f"concat_ws(chr(31), {', '.join(parts)})"
        elif "source_id" in self.data_types:
            identity = ("CASE WHEN source_id IS NOT NULL AND source_id <> '' THEN 'src' || chr(31) || "
                        "CAST(source_id AS VARCHAR) ELSE 'hash' || chr(31) || content_hash END")
        else:
            identity = "'hash' || chr(31) || content_hash"
        mac_key = (id_key if len(id_key) <= 64 else hashlib.sha256(id_key).digest()).ljust(64, b"\0")
        ipad = bytes(b ^ 0x36 for b in mac_key)  # HMAC-SHA256 written out: sha256(opad || sha256(ipad || message))
        opad = bytes(b ^ 0x5C for b in mac_key)
        kind = self.kind.name
        prefix = f"{node_name}:{kind}:"
        places = [f.name for f in self.kind.input_fields() if f.type == "place"]
        total = " + ".join(f"CAST(coalesce({p}_text, '') <> '' AS INTEGER)" for p in places) or "0"
        resolved = " + ".join(f"CAST(coalesce({p}_text, '') <> '' AND {p}_id IS NOT NULL AS INTEGER)"
                              for p in places) or "0"
        # one pass over the views; only this narrow table is materialized (row, fate, hash, id, place
        # counts; a rejected row's reasons); the wide columns are read through the views when written
        con.execute(f"""CREATE TABLE okh_all AS SELECT _row, _qkey, _qfield, _qen, _qes, content_hash,
                CASE WHEN _qkey IS NULL THEN {_lit(prefix)} || left(sha256($opad || unhex(sha256($ipad ||
                    encode({_lit(kind)} || chr(31) || {identity})))), 24) END AS id,
                CASE WHEN _qkey IS NULL THEN {total} END AS _places, CASE WHEN _qkey IS NULL THEN {resolved} END AS _resolved
            FROM all2""", {"ipad": ipad, "opad": opad})
        con.execute("CREATE VIEW okh AS SELECT * FROM okh_all WHERE _qkey IS NULL")
        # the first row of an identity wins; a later one with the same content is a duplicate, else a conflict.
        # Only the ids that repeat in the file are grouped with their rows; every other row is its own first
        # (1M rows, unique ids: 1.1 -> 0.4-0.55 CPU s)
        con.execute("""CREATE TABLE okf AS
            WITH rep AS (SELECT id FROM okh GROUP BY id HAVING count(*) > 1)
            SELECT _row, id, content_hash, _row AS first_row, 'new' AS _fate FROM okh ANTI JOIN rep USING (id)
            UNION ALL
            SELECT okh._row, okh.id, okh.content_hash, f.first_row,
                CASE WHEN okh._row = f.first_row THEN 'new' WHEN okh.content_hash = f.first_hash THEN 'dup'
                     ELSE 'conflict' END AS _fate
            FROM okh JOIN (SELECT id, min(_row) AS first_row, arg_min(content_hash, _row) AS first_hash
                           FROM okh SEMI JOIN rep USING (id) GROUP BY id) f USING (id)""")
        con.execute("CREATE VIEW ok AS SELECT ok1.*, okf.id, okf.content_hash, okf.first_row, okf._fate "
                    "FROM ok1 JOIN okf USING (_row)")

    def _reprs(self) -> list[str]:
        """The content hash's parts in model order: a field's columns as joined per distinct value by
        :meth:`clean` when no derivation writes them, else each column's ``repr`` per row."""
        written = {c for d in self.cleaner.derivations for c in d.writes}
        starts = {cols[0]: (cols, h) for cols, h in self.hash_parts}
        columns = list(self.data_types)
        reprs = []
        i = 0
        while i < len(columns):
            part = starts.get(columns[i])
            if part and columns[i : i + len(part[0])] == part[0] and not written & set(part[0]):
                reprs.append(part[1])
                i += len(part[0])
                continue
            reprs.append(repr_sql(columns[i], self.data_types[columns[i]], self.suffix))
            i += 1
        return [*reprs, repr_sql("extra", "TEXT", self.suffix)]

    def issue_table(self, batch_id: str, source_file: str, now: dt.datetime) -> None:
        """``iss``: the field issues of the kept rows (the first of their identity), one row per issue,
        in the ``field_issues`` columns. Only the fields and derivations that gave an issue for some
        distinct value are read, in one pass."""
        live: list[tuple[str, str, str, str, str]] = []
        for n, (k, en, es, raw, name) in enumerate(self.issue_cols):
            if self._any(f"m_{n}", "ik"):
                live.append((k, en, es, raw, _lit(name)))
        for n, derived in enumerate(self.derive_issue_cols):
            if self._any(f"d_{n}", "ik"):
                live.append(derived)
        common = (f"{_lit(self.kind.name)} AS kind, id AS record_id, {{field}} AS field, {_lit(batch_id)} AS batch_id, "
                  f"{_lit(source_file)} AS source_file, _row AS source_row, {{k}} AS reason_key, {{en}} AS reason_en, "
                  f"{{es}} AS reason_es, {{raw}} AS raw, $now::TIMESTAMP AS created_at")
        if not live:
            self.con.execute(f"CREATE TABLE iss AS SELECT {common.format(field='NULL::VARCHAR', k='NULL::VARCHAR', en='NULL::VARCHAR', es='NULL::VARCHAR', raw='NULL::VARCHAR')} "
                             "FROM (SELECT NULL::VARCHAR AS id, NULL::BIGINT AS _row) WHERE false", {"now": now})
            return
        cols = ", ".join(dict.fromkeys(c for part in live for c in part if not c.startswith("'")))
        any_issue = " OR ".join(f"{part[0]} IS NOT NULL" for part in live)
        self.con.execute(f"CREATE TABLE iss_w AS SELECT _row, id, {cols} FROM ok WHERE _fate = 'new' AND ({any_issue})")
        parts = [f"SELECT {common.format(field=name, k=k, en=en, es=es, raw=raw)} FROM iss_w WHERE {k} IS NOT NULL"
                 for k, en, es, raw, name in live]
        self.con.execute(f"CREATE TABLE iss AS {' UNION ALL '.join(parts)}", {"now": now})

    def _rows(self, table: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def _non_null(self, table: str, columns: list[str]) -> dict[str, bool]:
        """Whether any row of ``table`` sets each of ``columns``."""
        row = self.con.execute(f"SELECT {', '.join(f'count({c})' for c in columns)} FROM {table}").fetchone()
        return {c: bool(row and row[i]) for i, c in enumerate(columns)}

    def _any(self, table: str, column: str) -> bool:
        row = self.con.execute(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL").fetchone()
        return bool(row and row[0])

    def place_counts(self) -> tuple[int, int]:
        row = self.con.execute("SELECT coalesce(sum(_places), 0), coalesce(sum(_resolved), 0) FROM okh").fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def release(self) -> None:
        """Drop what writing no longer needs: the file's lines and the narrow hash table (the rows'
        fates are in ``okf``), so their memory serves the write."""
        for statement in ("DROP VIEW IF EXISTS raw_lines", "DROP TABLE IF EXISTS lines", "DROP VIEW IF EXISTS okh",
                          "DROP TABLE IF EXISTS okh_all"):
            self.con.execute(statement)

    def ranges(self, rows_of: str, chunk: int = _CHUNK) -> Iterator[str]:
        """Conditions on ``_row``, one per range of about ``chunk`` rows of ``rows_of``, in order."""
        bounds = self.con.execute(f"SELECT min(_row), max(_row), count(*) FROM {rows_of}").fetchone()
        if bounds is None or not bounds[2]:
            return
        low, high, count = (int(b) for b in bounds)
        step = max(chunk, (high - low + 1) * chunk // count)
        for start in range(low, high + 1, step):
            yield f"_row >= {start} AND _row < {start + step}"

    def slices(self, sql: str, rows_of: str, params: Any = None) -> Iterator[pa.Table]:
        """``sql`` run once per range of ``_row`` (:meth:`ranges`), its ``{rows}`` replaced by the range's
        condition on ``_row``."""
        for rows in self.ranges(rows_of):
            yield from self.batches(sql.replace("{rows}", rows), params)

    def batches(self, sql: str, params: Any = None) -> Iterator[pa.Table]:
        reader = self.con.execute(sql, params or []).to_arrow_reader(_CHUNK)
        for batch in reader:
            yield pa.Table.from_batches([batch])


def _issue_raw(raw: Any) -> str | None:
    return raw if isinstance(raw, str) or raw is None else json.dumps(raw, default=str)


__all__ = ["Columnar", "NotColumnar", "functions", "python_functions", "scratch"]
