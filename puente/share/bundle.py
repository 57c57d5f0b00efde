"""The bundle payload: a manifest followed by one Parquet file per record kind.

Layout (inside the DSSE envelope's payload)::

    b"PUENTE-BUNDLE/1\\n"  8-byte big-endian manifest length  manifest (JSON)  Parquet parts...

The manifest names sender, recipient, agreement id and version, sequence number, creation and
expiry times, the sender's signed audit checkpoint with a consistency proof from the checkpoint
the recipient last saw, the record ids deleted and revoked, and each part's kind, offset, length
row count and decoded size. :func:`read_manifest` reads only the manifest; the Parquet parts are
parsed by :func:`read_part` after every check has passed, and only once a streaming pass over
each part (dictionary-encoded, one batch at a time, nothing kept) has shown that its rows and
decompressed size match the manifest and stay under the caps from settings (``bundle_max_rows``,
``bundle_max_decoded_bytes``): a zip bomb is refused before it is ever materialized.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from puente.errors import BundleError
from puente.settings import setting

MAGIC = b"PUENTE-BUNDLE/1\n"


def pack(manifest: dict[str, Any], parts: dict[str, pa.Table]) -> bytes:
    """The payload for Arrow tables (each written here as a zstd Parquet part)."""
    blobs = []
    for kind, table in parts.items():
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        blobs.append((kind, sink.getvalue(), table.num_rows, table.nbytes))
    return pack_parts(manifest, blobs)


def pack_parts(manifest: dict[str, Any], parts: list[tuple[str, bytes, int, int]]) -> bytes:
    """The payload for Parquet parts already written: (kind, Parquet bytes, rows, decoded bytes) each."""
    offset = 0
    manifest = dict(manifest, parts=[])
    for kind, blob, rows, decoded in parts:
        manifest["parts"].append({"kind": kind, "offset": offset, "length": len(blob), "rows": rows,
                                  "bytes": decoded})
        offset += len(blob)
    head = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    return MAGIC + len(head).to_bytes(8, "big") + head + b"".join(blob for _, blob, _, _ in parts)


def read_manifest(payload: bytes) -> tuple[dict[str, Any], memoryview]:
    if not payload.startswith(MAGIC) or len(payload) < len(MAGIC) + 8:
        raise BundleError("bundle_rejected", reason="the payload is not a Puente bundle")
    size = int.from_bytes(payload[len(MAGIC): len(MAGIC) + 8], "big")
    start = len(MAGIC) + 8
    try:
        manifest = json.loads(payload[start: start + size])
    except ValueError:
        raise BundleError("bundle_rejected", reason="the bundle manifest is not JSON") from None
    return manifest, memoryview(payload)[start + size:]


@dataclass
class Budget:
    """What all parts of one bundle may still decode to (from settings)."""

    rows: int = field(default_factory=lambda: int(setting("bundle_max_rows")))
    decoded: int = field(default_factory=lambda: int(setting("bundle_max_decoded_bytes")))
    value: int = field(default_factory=lambda: int(setting("max_row_bytes")))


def _reject(reason: str) -> BundleError:
    return BundleError("bundle_rejected", reason=reason)


def decoded_size(batch: pa.RecordBatch) -> int:
    """Bytes the batch takes once dictionary-encoded strings are decoded (values counted per row)."""
    total = 0
    for column in batch.columns:
        if isinstance(column, pa.DictionaryArray):
            lengths = pc.binary_length(column.dictionary).fill_null(0)
            used = pc.take(lengths, column.indices.fill_null(0)) if len(lengths) else pa.array([], pa.int64())
            total += int(pc.sum(used).as_py() or 0) + 8 * len(column)
        else:
            total += column.nbytes
    return total


def read_part(body: memoryview, part: dict[str, Any], budget: Budget | None = None) -> pa.Table:
    """Check a part against the manifest while streaming it, then read it."""
    budget = budget or Budget()
    kind, rows = str(part["kind"]), int(part["rows"])
    offset, length = int(part["offset"]), int(part["length"])
    if offset < 0 or length < 0 or offset + length > len(body):
        raise _reject(f"part {kind} lies outside the bundle")
    if rows < 0 or rows > budget.rows:
        raise _reject(f"part {kind} declares {rows:,} records, more than the {budget.rows:,} a bundle may carry "
                      "(bundle_max_rows)")
    blob = pa.py_buffer(body[offset: offset + length])
    try:
        meta = pq.ParquetFile(pa.BufferReader(blob))
        if meta.metadata.num_rows != rows:
            raise _reject(f"part {kind} holds {meta.metadata.num_rows:,} records, but the manifest says {rows:,}")
        declared = sum(meta.metadata.row_group(g).column(c).total_uncompressed_size
                       for g in range(meta.metadata.num_row_groups) for c in range(meta.metadata.num_columns))
        limit = budget.decoded
        if "bytes" in part:
            limit = min(limit, 2 * int(part["bytes"]) + (1 << 20))
        if declared > limit:
            raise _reject(f"part {kind} decompresses to {declared:,} bytes, over the {limit:,} allowed")
        strings = [f.name for f in meta.schema_arrow if pa.types.is_string(f.type) or pa.types.is_binary(f.type)
                   or pa.types.is_large_string(f.type) or pa.types.is_large_binary(f.type)]
        stream = pq.ParquetFile(pa.BufferReader(blob), read_dictionary=strings)
        seen = decoded = 0
        for batch in stream.iter_batches(batch_size=32768):
            seen += batch.num_rows
            decoded += decoded_size(batch)
            if seen > rows:
                raise _reject(f"part {kind} holds more records than the {rows:,} its manifest says")
            if decoded > limit:
                raise _reject(f"part {kind} decompresses to more than {limit:,} bytes (zip bomb?)")
            for column in batch.columns:
                if isinstance(column, pa.DictionaryArray) and len(column.dictionary):
                    longest = pc.max(pc.binary_length(column.dictionary)).as_py() or 0
                    if longest > budget.value:
                        raise _reject(f"part {kind} has a value of {longest:,} bytes (max_row_bytes {budget.value:,})")
        if seen != rows:
            raise _reject(f"part {kind} holds {seen:,} records, but the manifest says {rows:,}")
        budget.rows -= rows
        budget.decoded -= decoded
        return pq.read_table(pa.BufferReader(blob))
    except (pa.ArrowException, OSError) as exc:
        raise _reject(f"part {kind} is not Parquet: {exc}") from None
