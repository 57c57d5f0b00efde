"""The bundle payload: a manifest followed by one Parquet file per record kind.

Layout (inside the DSSE envelope's payload)::

    b"PUENTE-BUNDLE/1\\n"  8-byte big-endian manifest length  manifest (JSON)  Parquet parts...

The manifest names sender, recipient, agreement id and version, sequence number, creation and
expiry times, the sender's signed audit checkpoint with a consistency proof from the checkpoint
the recipient last saw, the record ids deleted and revoked, and each part's kind, offset, length
and row count. :func:`read_manifest` reads only the manifest; the Parquet parts are parsed by
:func:`read_part` after every check has passed.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from puente.errors import BundleError

MAGIC = b"PUENTE-BUNDLE/1\n"


def pack(manifest: dict[str, Any], parts: dict[str, pa.Table]) -> bytes:
    blobs = []
    offset = 0
    manifest = dict(manifest, parts=[])
    for kind, table in parts.items():
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        blob = sink.getvalue()
        manifest["parts"].append({"kind": kind, "offset": offset, "length": len(blob), "rows": table.num_rows})
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    return MAGIC + len(head).to_bytes(8, "big") + head + b"".join(blobs)


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


def read_part(body: memoryview, part: dict[str, Any]) -> pa.Table:
    blob = body[part["offset"]: part["offset"] + part["length"]]
    try:
        return pq.read_table(pa.BufferReader(pa.py_buffer(blob)))
    except (pa.ArrowException, OSError) as exc:
        raise BundleError("bundle_rejected", reason=f"part {part['kind']} is not Parquet: {exc}") from None
