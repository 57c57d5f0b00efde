"""Ingest one file: read → clean → derive → id → dedupe → write, as one atomic batch.

Every row read ends in exactly one of (``read = stored + updated + conflicts + quarantined +
duplicates``):

- stored: a new record (possibly with field issues: optional values that were invalid, set to
  NULL and kept with their reason and raw text in ``field_issues``);
- updated: a changed row whose identity was stored by an *earlier file* of the same agency (a correction;
  the identity of another agency's record is quarantined, ``identity_other_agency``);
- conflicts: a row with the identity of an earlier row *of the same file* but other content.
  The first row is stored; the later one goes to quarantine (reason ``identity_conflict``,
  ``other_row`` = the earlier row), never an update: nothing in a file overwrites the file;
- quarantined: the row was rejected (row number, field and reason);
- duplicates: same identity and content as a stored record or an earlier row of the file.

The whole file is one transaction: a crash or Ctrl-C leaves the store with all of the batch
or none of it. Rows stream through in chunks, so a file larger than memory works; what is
kept for the whole file is one small entry per identity (to tell conflicts from updates).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import sys
import tempfile
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from puente.errors import InputError
from puente.geo.gazetteer import load_gazetteer
from puente.i18n import t
from puente.ingest.clean import Rejection, RowCleaner, content_hash
from puente.ingest.melt import melt_source
from puente.ingest.profile import Profile
from puente.ingest.readers import RawRow, Source, open_source
from puente.model import PLACE_COLUMNS, Kind, load_model
from puente.node import Node
from puente.settings import setting
from puente.store import versions
from puente.store.base import Store

Progress = Callable[[int, int], None]
_STORE_MEMORY = "512MB"  # the store's buffers during an ingest (with the columnar scratch's 640 MB: a 1M-row file < 2 GB)
_STORE_MEMORY_COLUMNAR = "1152MB"  # the same two shares, when the columnar work runs in the store's DuckDB database


@dataclass
class IngestReport:
    batch_id: str
    kind: str
    profile: str
    source_file: str
    encoding: str = "utf-8"
    rows_read: int = 0
    stored: int = 0
    updated: int = 0
    conflicts: int = 0
    field_issues: int = 0  # values set to NULL on stored records (not a row outcome)
    quarantined: int = 0
    duplicates: int = 0
    places_total: int = 0
    places_resolved: int = 0
    empty_cells: int = 0  # melt: empty cells of melted columns (no row, as a blank line is none)
    unmatched_headers: list[str] = field(default_factory=list)
    engine: str = "row"  # the path the file took: row, columnar, or columnar-rows (the row reader fed it)

    @property
    def balanced(self) -> bool:
        return self.rows_read == (self.stored + self.updated + self.conflicts + self.quarantined
                                  + self.duplicates)

    @property
    def all_rejected(self) -> bool:
        """Every row of a non-empty file was quarantined or in conflict: nothing was kept."""
        return self.rows_read > 0 and self.stored + self.updated + self.duplicates == 0

    def summary(self, lang: str | None = None) -> str:
        return t("ingest_summary", lang=lang, read=self.rows_read, stored=self.stored, updated=self.updated,
                 conflicts=self.conflicts, quarantined=self.quarantined, duplicates=self.duplicates)


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _arrow_type(sql: str) -> pa.DataType:
    return {"TEXT": pa.string(), "DATE": pa.date32(), "DOUBLE PRECISION": pa.float64(), "BIGINT": pa.int64(),
            "INTEGER": pa.int32(), "TIMESTAMP": pa.timestamp("us")}[sql]


def schema_for(kind: Kind) -> pa.Schema:
    cols = {**kind.columns(), "extra": "TEXT"}
    return pa.schema([(c, _arrow_type(t_)) for c, t_ in cols.items()])


class _Batch:
    """Buffered writes for one kind within the open transaction.

    ``seen`` maps every identity met in this file to (its first row, a hash of its content), so a
    later row with that identity is a duplicate or a conflict whichever chunk it falls in. The
    pending chunk is checked against the store at flush time: a stored record there comes from
    an earlier file (this file's ids are unique in ``pending``), so a difference is an update.
    """

    def __init__(self, store: Store, kind: Kind, report: IngestReport,
                 quarantined_rows: set[tuple[int, str]],
                 other_agency: Callable[[dict[str, Any], tuple[Any, ...]], dict[str, Any]] | None = None) -> None:
        self.store = store
        self.other_agency = other_agency  # builds the quarantine row of a record that would replace another agency's
        self.kind = kind
        self.report = report
        self.schema = schema_for(kind)
        self.seen: dict[str, tuple[int, int]] = {}
        self.pending: dict[str, dict[str, Any]] = {}
        self.issues: dict[str, list[dict[str, Any]]] = {}  # record id -> its field issues
        self.quarantine: list[dict[str, Any]] = []
        self.quarantined_rows = quarantined_rows  # (row, melted column or '') of this file already in quarantine

    def add(self, record: dict[str, Any], issues: list[dict[str, Any]]) -> int | None:
        """Queue a record; returns the earlier row it conflicts with (the caller quarantines it)."""
        rid = record["id"]
        digest = hash(record["content_hash"])
        earlier = self.seen.get(rid)
        if earlier is not None:
            if earlier[1] == digest:
                self.report.duplicates += 1
                return None
            return earlier[0]
        self.seen[rid] = (record["source_row"], digest)
        self.pending[rid] = record
        if issues:
            self.issues[rid] = issues
        return None

    def flush(self) -> None:
        if self.pending:
            existing = self.store.existing_hashes(self.kind.table, list(self.pending))
            fresh = []
            replace = []
            changed = [rid for rid, old in existing.items() if old != self.pending[rid]["content_hash"]]
            stored = stored_sources(self.store, self.kind.table, changed)
            for rid, record in self.pending.items():
                old = existing.get(rid)
                if old == record["content_hash"]:
                    self.report.duplicates += 1
                    self.issues.pop(rid, None)
                    continue
                if old is not None and self.other_agency and other_source(record["source_agency"], stored[rid][0]):
                    self.report.quarantined += 1
                    self.issues.pop(rid, None)
                    self.quarantine.append(self.other_agency(record, stored[rid]))
                    continue
                if old is not None:
                    replace.append(rid)
                    self.report.updated += 1
                else:
                    self.report.stored += 1
                fresh.append(record)
            self.store.delete_ids(self.kind.table, replace)
            # a record's issues are replaced with it (also stale ones of a record deleted since, e.g. purged)
            _delete_issues(self.store, self.kind.name, [*replace, *(r for r in self.issues if r not in existing)])
            if fresh:
                self.store.insert_arrow(self.kind.table, _to_arrow(fresh, self.schema))
            issues = [i for rid in self.issues for i in self.issues[rid]]
            self.report.field_issues += len(issues)
            if issues:
                self.store.insert_arrow("field_issues", _to_arrow(issues, _ISSUE_SCHEMA))
            self.pending = {}
            self.issues = {}
        if self.quarantine:
            new = [q for q in self.quarantine if (q["source_row"], q["source_column"]) not in self.quarantined_rows]
            self.quarantined_rows.update((q["source_row"], q["source_column"]) for q in new)
            if new:
                self.store.insert_arrow("quarantine", _to_arrow(new, _QUARANTINE_SCHEMA))
            self.quarantine = []


def stored_sources(store: Store, table: str, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """(source_agency, source_file, source_row) of the stored records ``ids``."""
    out: dict[str, tuple[Any, ...]] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        marks = ", ".join("?" for _ in chunk)
        for rid, *source in store.query(
                f"SELECT id, source_agency, source_file, source_row FROM {table} WHERE id IN ({marks})", chunk):
            out[rid] = tuple(source)
    return out


def other_source(new: Any, stored: Any) -> bool:
    """Whether a changed row would replace the record of another agency: an identity (a case number) is its
    agency's own, so the same case number from another agency is not a correction. Both must be named: a
    record or a row without an agency is not told apart."""
    return bool(new and stored) and str(new).strip().casefold() != str(stored).strip().casefold()


def _other_agency_rejection(label: str, stored: tuple[Any, ...]) -> Rejection:
    agency, file, row = stored
    return Rejection("", "identity_other_agency", {"fields": label, "agency": agency, "file": file, "row": row})


def _delete_issues(store: Store, kind: str, ids: list[str]) -> None:
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        marks = ", ".join("?" for _ in chunk)
        store.execute(f"DELETE FROM field_issues WHERE kind = ? AND record_id IN ({marks})", [kind, *chunk])


def _to_arrow(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Column by column. Records of one chunk are built the same way, so their keys come in
    the same order and can be transposed with ``zip`` (much faster than a lookup per cell)."""
    keys = list(rows[0])
    if all(len(r) == len(keys) for r in rows):
        transposed = dict(zip(keys, zip(*(r.values() for r in rows))))
        empty = [None] * len(rows)
        columns = {name: transposed.get(name, empty) for name in schema.names}
    else:
        columns = {name: [r.get(name) for r in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


_QUARANTINE_SCHEMA = pa.schema([
    ("file_hash", pa.string()), ("source_row", pa.int64()), ("batch_id", pa.string()), ("kind", pa.string()),
    ("source_file", pa.string()), ("field", pa.string()), ("reason_key", pa.string()), ("reason_en", pa.string()),
    ("reason_es", pa.string()), ("raw", pa.string()), ("created_at", pa.timestamp("us")), ("other_row", pa.int64()),
    ("source_column", pa.string()),
])

_ISSUE_SCHEMA = pa.schema([
    ("kind", pa.string()), ("record_id", pa.string()), ("field", pa.string()), ("batch_id", pa.string()),
    ("source_file", pa.string()), ("source_row", pa.int64()), ("reason_key", pa.string()),
    ("reason_en", pa.string()), ("reason_es", pa.string()), ("raw", pa.string()), ("created_at", pa.timestamp("us")),
])


def ingest_file(node: Node, store: Store, path: Path, profile: Profile,
                progress: Progress | None = None, on_wait: Callable[[], None] | None = None,
                engine: str = "auto") -> IngestReport:
    """Ingest one file as one transaction. ``engine``: ``auto`` takes the columnar path for a CSV of
    at least ``columnar_min_bytes`` (:mod:`puente.ingest.columnar`) and the row path for smaller
    files, Excel, JSON Lines and a CSV the columnar path declines; ``columnar`` takes it for every
    CSV; ``row`` forces the row path (the tests' reference)."""
    model = load_model()
    kind = model.kind(profile.kind)
    max_row = int(setting("max_row_bytes"))
    source = open_source(path, profile.format, max_row, profile.delimiter, profile.encoding)
    source = melt_source(source, profile.melt, str(path), profile.name)  # a wide file: one row per melted cell
    file_hash = _file_hash(path)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    report = IngestReport(batch_id=uuid.uuid4().hex, kind=kind.name, profile=profile.name, source_file=str(path))

    columnar = (engine == "columnar" or (engine == "auto" and source.size >= int(setting("columnar_min_bytes")))) \
        and source.fmt == "csv" and not profile.melt  # melted rows take the row path
    # the store's own buffers stay bounded too (DuckDB: pages of this transaction are written out past it; the
    # columnar work in the store's own DuckDB database gets the scratch database's share on top)
    cap = _STORE_MEMORY_COLUMNAR if columnar and store.duckdb_connection() is not None else _STORE_MEMORY
    with store.memory_cap(cap), store.transaction():
        store.lock("ingest", on_wait)  # ingests into one store take turns (PostgreSQL; DuckDB is single-writer)
        done = False
        if columnar:
            done = _ingest_columnar(node, store, path, profile, kind, source, report, file_hash, now, progress)
            if not done:  # declined before writing anything: start again on the row path
                source = open_source(path, profile.format, max_row, profile.delimiter, profile.encoding)
                report = IngestReport(batch_id=report.batch_id, kind=kind.name, profile=profile.name,
                                      source_file=str(path))
        if not done:
            with store.serial_appends():  # appends on one thread (DuckDB; the columnar path writes a DuckDB store on two)
                _ingest_rows(node, store, path, profile, kind, source, report, file_hash, now, progress)
        if report.stored or report.updated:
            versions.bump(store, f"ingest {report.batch_id}")
        store.execute(
            "INSERT INTO batches (batch_id, kind, profile, source_file, file_hash, encoding, started_at, "
            "finished_at, rows_read, stored, updated, quarantined, duplicates, conflicts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP, ?, ?, ?, ?, ?, ?)",
            [report.batch_id, kind.name, profile.name, str(path), file_hash, report.encoding, now,
             report.rows_read, report.stored, report.updated, report.quarantined, report.duplicates,
             report.conflicts],
        )
    return report


def _quarantine_row(report: IngestReport, kind: Kind, path: Path, file_hash: str, now: dt.datetime, number: int,
                    raw: str, rejections: list[Rejection], other_row: int | None = None,
                    source_column: str = "") -> dict[str, Any]:
    return {
        "file_hash": file_hash, "source_row": number, "batch_id": report.batch_id, "kind": kind.name,
        "source_file": str(path), "field": ", ".join(r.field for r in rejections if r.field) or None,
        "reason_key": rejections[0].key, "reason_en": "; ".join(r.text("en") for r in rejections),
        "reason_es": "; ".join(r.text("es") for r in rejections), "raw": raw, "created_at": now,
        "other_row": other_row, "source_column": source_column,
    }


def _row_raw(row: RawRow) -> str:
    return row.raw_text or json.dumps(row.values, ensure_ascii=False, default=str)


def _ingest_rows(node: Node, store: Store, path: Path, profile: Profile, kind: Kind, source: Source,
                 report: IngestReport, file_hash: str, now: dt.datetime, progress: Progress | None) -> None:
    """The row path: each row read, cleaned, hashed and queued in turn (Excel, JSON Lines, and the
    tests' reference for the columnar path)."""
    model = load_model()
    already = {(int(r[0]), str(r[1])) for r in store.query(
        "SELECT source_row, source_column FROM quarantine WHERE file_hash = ?", [file_hash])}
    raws: dict[str, tuple[int, str, str]] = {}  # pending record id -> its row, raw text and melted column

    def other_agency(record: dict[str, Any], stored: tuple[Any, ...]) -> dict[str, Any]:
        number, raw, column = raws[record["id"]]
        label = cleaner.identity_label if cleaner is not None else "source_id"
        return _quarantine_row(report, kind, path, file_hash, now, number, raw,
                               [_other_agency_rejection(label, stored)], None, column)

    batch = _Batch(store, kind, report, already, other_agency)

    def record_id(k: str, ref: str) -> str:
        return node.record_id(k, "src\x1f" + ref)

    gazetteer = load_gazetteer()
    cleaner: RowCleaner | None = None
    place_fields = [f.name for f in kind.input_fields() if f.type == "place"]
    flush_every = int(setting("batch_rows"))
    header_count = -1

    def quarantine(row: RawRow, rejections: list[Rejection], other_row: int | None = None) -> None:
        if other_row is None:
            report.quarantined += 1
        else:
            report.conflicts += 1
        batch.quarantine.append(_quarantine_row(report, kind, path, file_hash, now, row.number, _row_raw(row),
                                                rejections, other_row, row.column or ""))

    def issue_rows(rid: str, row: RawRow, issues: list[Rejection]) -> list[dict[str, Any]]:
        return [{"kind": kind.name, "record_id": rid, "field": i.field, "batch_id": report.batch_id,
                 "source_file": str(path), "source_row": row.number, "reason_key": i.key,
                 "reason_en": i.text("en"), "reason_es": i.text("es"),
                 "raw": i.raw if isinstance(i.raw, str) or i.raw is None else json.dumps(i.raw, default=str),
                 "created_at": now} for i in issues]

    for row in source.rows():
        report.rows_read += 1
        if cleaner is None or len(source.headers) != header_count:
            header_count = len(source.headers)
            if cleaner is None:
                cleaner = RowCleaner(model, kind, profile, gazetteer, source.headers, record_id)
                missing = cleaner.missing_required()
                if missing and source.fmt != "jsonl":
                    raise InputError("missing_columns", path=str(path), fields=", ".join(missing),
                                     profile=profile.name)
            else:
                cleaner.set_headers(source.headers)
        if row.problem:
            quarantine(row, [Rejection("", row.problem, row.problem_args)])
            continue
        record, rejections, issues = cleaner.clean(row.values)
        if record is None:
            quarantine(row, rejections)
            continue
        for pf in place_fields:
            if record.get(f"{pf}_text"):
                report.places_total += 1
                report.places_resolved += record.get(f"{pf}_id") is not None
        digest = content_hash(record)
        record.update({
            "id": node.record_id(kind.name, cleaner.identity(record, digest)), "owner_node": node.name,
            "source_agency": profile.agency or record.get("agency"), "source_file": path.name,
            "source_row": row.number, "batch_id": report.batch_id, "ingested_at": now,
            "content_hash": digest, "bundle_id": None, "retain_until": None,
        })
        rid = record["id"]
        if rid not in raws:
            raws[rid] = (row.number, _row_raw(row), row.column or "")
        earlier = batch.add(record, issue_rows(rid, row, issues) if issues else [])
        if earlier is not None:
            quarantine(row, [Rejection("", "identity_conflict",
                                       {"row": earlier, "fields": cleaner.identity_label})], other_row=earlier)
        if len(batch.pending) + len(batch.quarantine) >= flush_every:
            batch.flush()
            raws.clear()
            if progress:
                progress(source.bytes_read, source.size)
    batch.flush()
    if progress:
        progress(source.size, source.size)
    report.encoding = source.encoding
    report.empty_cells = getattr(source, "empty_cells", 0)
    report.unmatched_headers = cleaner.extra_headers if cleaner else []


def _ingest_columnar(node: Node, store: Store, path: Path, profile: Profile, kind: Kind, source: Source,
                     report: IngestReport, file_hash: str, now: dt.datetime, progress: Progress | None) -> bool:
    """The columnar path (:mod:`puente.ingest.columnar`) for one CSV file; False when it declines
    (nothing written yet, ``report`` untouched).

    Where the store is an in-process DuckDB database, the work runs in an in-memory database attached to the
    store's own DuckDB (through a cursor, outside the store's transaction: tables written inside a transaction
    cost ~1.7x the CPU to build and scan) on the database's threads, and the store's connection writes the rows
    by ``INSERT ... SELECT`` from it, with nothing in Python between the two; the attached database is detached
    at the end. Elsewhere (PostgreSQL) the work runs in a scratch DuckDB database and the rows go to the store
    as Arrow slices. Same statements, same rows either way."""
    from puente.ingest import columnar as col
    from puente.ingest.fastcsv import fast_csv

    model = load_model()

    def record_id(k: str, ref: str) -> str:
        return node.record_id(k, "src\x1f" + ref)

    host = store.duckdb_connection()
    temp = None
    if host is None:
        temp = tempfile.TemporaryDirectory(prefix="puente-col-")
        con = col.scratch(temp.name)
        db = ""
    else:  # a database of the store's own DuckDB, in memory, written outside the store's transaction
        row = host.execute("SELECT current_database()").fetchone()
        home = str(row[0]) if row else ""
        name = "puente_columnar_" + uuid.uuid4().hex[:12]
        con = host.cursor()
        con.execute(f"ATTACH ':memory:' AS {name}")
        con.execute(f"USE {name}")
        db = name + "."
    try:
        with col.functions(con) as suffix:
            try:
                problems: list[RawRow] = []
                headers = None
                # A row-producing pre-stage (a profile's ``melt``) feeds the columnar path through the row
                # reader branch below: such a profile skips ``fast_csv`` (its table is the melted rows, not the
                # file's cells) and wraps ``source.rows()`` (and the headers it yields) before ``load_rows``.
                if profile.encoding == "auto" and not getattr(profile, "melt", None):
                    headers = fast_csv(con, path, int(setting("max_row_bytes")), profile.delimiter)
                split_by_duckdb = headers is not None
                if headers is None:
                    rows = source.rows()
                    first = next(rows, None)  # reads the header, with the row reader's errors
                    headers = source.headers
                cleaner = RowCleaner(model, kind, profile, load_gazetteer(), headers, record_id)
                if any(more for _, _, more, _ in cleaner._plan) or cleaner._dims:  # dimension columns: row path
                    return False
                work = col.Columnar(con, kind, cleaner, headers, suffix)
                if split_by_duckdb:
                    row = con.execute("SELECT count(*) FROM src").fetchone()
                    read = int(row[0]) if row else 0
                else:
                    read = work.load_rows(itertools.chain([first] if first else [], rows), problems.append)
                missing = cleaner.missing_required()
                if read and missing:
                    raise InputError("missing_columns", path=str(path), fields=", ".join(missing), profile=profile.name)
                if progress:
                    progress(source.size // 2, source.size)
                work.clean()
                work.derive()
                work.finish(node.name, node.id_key)
                total, resolved = work.place_counts()
                # the fate of each kept row against the store: new, a correction (updated) or a duplicate
                # (the stored hashes read through the store: it sees what its transaction wrote)
                ids = con.execute("SELECT id FROM okf WHERE _fate = 'new'").to_arrow_table()
                old = store.existing_hashes_arrow(kind.table, ids.column("id").combine_chunks())
                con.register("_old", old)
                con.execute("""CREATE TABLE fate AS SELECT ok._row, ok.id, CASE
                        WHEN o.content_hash IS NULL THEN 'stored'
                        WHEN o.content_hash = ok.content_hash THEN 'dup' ELSE 'updated' END AS fate
                    FROM okf ok LEFT JOIN _old o USING (id) WHERE ok._fate = 'new'""")
                con.unregister("_old")
                counts = dict(con.execute("SELECT fate, count(*) FROM fate GROUP BY fate").fetchall())
                within = dict(con.execute("SELECT _fate, count(*) FROM okf GROUP BY _fate").fetchall())
                already = {int(r[0]) for r in store.query("SELECT source_row FROM quarantine WHERE file_hash = ?", [file_hash])}
                quarantine = [_quarantine_row(report, kind, path, file_hash, now, r.number, _row_raw(r),
                                              [Rejection("", r.problem or "", r.problem_args)]) for r in problems]
                for number, raw, field_, key, en, es in con.execute(
                        "SELECT _row, _raw, _qfield, _qkey, _qen, _qes FROM okh_all JOIN raw_lines USING (_row) "
                        "WHERE _qkey IS NOT NULL ORDER BY _row").fetchall():
                    quarantine.append({"file_hash": file_hash, "source_row": number, "batch_id": report.batch_id,
                                       "kind": kind.name, "source_file": str(path), "field": field_, "reason_key": key,
                                       "reason_en": en, "reason_es": es, "raw": raw, "created_at": now, "other_row": None,
                                       "source_column": ""})
                rejected = len(quarantine)
                conflicts = con.execute("SELECT _row, _raw, first_row FROM okf JOIN raw_lines USING (_row) "
                                        "WHERE _fate = 'conflict' ORDER BY _row").fetchall()
                for number, raw, first in conflicts:
                    quarantine.append(_quarantine_row(report, kind, path, file_hash, now, number, raw, [Rejection(
                        "", "identity_conflict", {"row": first, "fields": cleaner.identity_label})], other_row=first))
                # a stored record of another agency is not corrected by this file: its row goes to quarantine
                changed = [r[0] for r in con.execute("SELECT id FROM fate WHERE fate = 'updated'").fetchall()]
                if changed:
                    stored = stored_sources(store, kind.table, changed)
                    new_agency = (f"{_lit_or_null(profile.agency)}" if profile.agency else
                                  "all1.agency" if "agency" in kind.data_columns() else "NULL")
                    others = [(rid, number, raw) for rid, number, raw, agency in con.execute(
                        f"SELECT fate.id, fate._row, _raw, {new_agency} FROM fate JOIN all1 USING (_row) "
                        "JOIN raw_lines USING (_row) WHERE fate.fate = 'updated' ORDER BY _row").fetchall()
                        if other_source(agency, stored[rid][0])]
                    for rid, number, raw in others:
                        quarantine.append(_quarantine_row(report, kind, path, file_hash, now, number, raw,
                                                          [_other_agency_rejection(cleaner.identity_label, stored[rid])]))
                    if others:
                        con.register("_others", pa.table({"id": [o[0] for o in others]}))
                        con.execute("UPDATE fate SET fate = 'other' WHERE id IN (SELECT id FROM _others)")
                        con.unregister("_others")
                        counts = dict(con.execute("SELECT fate, count(*) FROM fate GROUP BY fate").fetchall())
                        rejected += len(others)
                work.release()  # the lines and the hash table are not needed for writing
                # -- nothing was written before this point ------------------------------------------------
                updated = [r[0] for r in con.execute("SELECT id FROM fate WHERE fate = 'updated'").fetchall()]
                store.delete_ids(kind.table, updated)
                work.issue_table(report.batch_id, str(path), now)
                with_issues = [r[0] for r in con.execute(
                    "SELECT DISTINCT record_id FROM iss JOIN fate ON fate.id = iss.record_id WHERE fate.fate = 'stored'").fetchall()]
                _delete_issues(store, kind.name, [*updated, *with_issues])
                schema = schema_for(kind)
                agency = _lit_or_null(profile.agency) if profile.agency else (
                    "agency" if "agency" in kind.data_columns() else "NULL")
                # the rows to write with their id and hash (one narrow table: the write joins the view chain once)
                con.execute("CREATE TABLE wr AS SELECT _row, fate.id, okf.content_hash FROM okf JOIN fate USING (_row) "
                            "WHERE okf._fate = 'new' AND fate.fate IN ('stored', 'updated')")
                provenance = {"id": "wr.id", "owner_node": col._lit(node.name), "source_agency": agency,
                              "source_file": col._lit(path.name), "source_row": "_row", "batch_id": col._lit(report.batch_id),
                              "ingested_at": "$now::TIMESTAMP" if host is None else "?::TIMESTAMP",
                              "content_hash": "wr.content_hash", "bundle_id": "NULL",
                              "retain_until": "NULL::DATE"}
                select = ", ".join(f"{provenance.get(c, c)} AS {c}" for c in schema.names)
                # written in slices of source rows: the row filter reaches the scan under the view chain, so each
                # slice is cleaned, joined and sorted on its own and memory stays bounded by the slice
                records = f"SELECT {select} FROM {db}all1 JOIN {db}wr USING (_row) WHERE {{rows}} ORDER BY _row"
                with_fate = f"FROM {db}iss JOIN {db}fate ON fate.id = iss.record_id WHERE fate.fate IN ('stored', 'updated')"
                # INSERT ... SELECT in the store's own transaction on the database's threads, in slices of whole
                # row groups: 1M rows, the write's busiest thread 3.1-3.2 CPU s against 5.3 on one thread, for
                # 4-8% more CPU in all (bench/results/ingest.md, round 7); the Arrow path appends on one thread
                with store.serial_appends() if host is None else nullcontext():
                    if host is not None:
                        for cond in work.ranges("wr", col.WRITE_SLICE):
                            store.execute(f"INSERT INTO {kind.table} ({', '.join(schema.names)}) "
                                          + records.replace("{rows}", cond), [now])
                        found = con.execute(f"SELECT count(*) {with_fate}").fetchone()
                        issues = int(found[0]) if found else 0
                        if issues:
                            names = ", ".join(_ISSUE_SCHEMA.names)
                            store.execute(f"INSERT INTO field_issues ({names}) SELECT {names} FROM "
                                          f"(SELECT iss.* {with_fate}) ORDER BY source_row")
                    else:
                        for table in work.slices(records, "wr", {"now": now}):
                            store.insert_arrow(kind.table, table.cast(schema))
                        issues = 0
                        for table in work.batches(f"SELECT iss.* {with_fate} ORDER BY source_row"):
                            issues += table.num_rows
                            store.insert_arrow("field_issues", table.cast(_ISSUE_SCHEMA))
                    new = [q for q in quarantine if q["source_row"] not in already]
                    if new:
                        store.insert_arrow("quarantine", _to_arrow(new, _QUARANTINE_SCHEMA))
            finally:
                if host is not None:  # (before the functions go: its views refer to them)
                    failing = sys.exc_info()[1] is not None
                    try:
                        con.execute(f'USE "{home}"')
                        con.execute(f"DETACH {db.rstrip('.')}")
                    except Exception:
                        if not failing:
                            raise  # (while another error is on its way out, that one is reported)
    except col.NotColumnar:  # raised while cleaning, before anything was written
        return False
    finally:
        con.close()
        if temp is not None:
            temp.cleanup()
    report.rows_read = read
    report.stored = counts.get("stored", 0)
    report.updated = counts.get("updated", 0)
    report.duplicates = counts.get("dup", 0) + within.get("dup", 0)
    report.conflicts = within.get("conflict", 0)
    report.quarantined = rejected
    report.field_issues = issues
    report.places_total, report.places_resolved = total, resolved
    report.encoding = source.encoding
    report.unmatched_headers = cleaner.extra_headers if read else []  # (as the row path: known from a first row)
    report.engine = "columnar" if split_by_duckdb else "columnar-rows"
    if progress:
        progress(source.size, source.size)
    return True


def _lit_or_null(text: str | None) -> str:
    from puente.ingest.columnar import _lit

    return "NULL" if text is None else _lit(text)


__all__ = ["PLACE_COLUMNS", "IngestReport", "ingest_file", "schema_for"]
