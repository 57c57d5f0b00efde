"""Bundles from a hostile partner (signed with the partner's real key): forged owners, malformed parts,
a zip bomb and an oversized push are refused, each with a reason and an audit entry, and the bomb and
the push are refused with the receiving process's peak memory under 300 MB."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _puente_cli import REPO
from _puente_cli import cli as run  # the CLI in this process: the process itself is not the point here
from share_support import agreement_doc, install, pair

from puente.audit import log
from puente.errors import BundleError
from puente.node import Node
from puente.share.agreement import key_id
from puente.share.bundle import MAGIC, read_manifest
from puente.share.envelope import BUNDLE_TYPE, open_envelope, seal
from puente.share.export import export_bundle
from puente.share.receive import import_bundle

MB = 1 << 20


@pytest.fixture
def nodes(make_node: Any, store_url: str) -> tuple[Node, Node]:
    """The receiving node on each store."""
    us, mx = pair(make_node, mx_store=store_url)
    install(us, mx, agreement_doc(us, mx))
    return us, mx


def _export(us: Node, mx: Node) -> bytes:
    with us.open_store() as store:
        return export_bundle(us, store, mx.name)


def _open(us: Node, data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    manifest, body = read_manifest(open_envelope(data).verify(us.public_key))
    return manifest, {p["kind"]: bytes(body[p["offset"]: p["offset"] + p["length"]]) for p in manifest["parts"]}


def _seal(us: Node, manifest: dict[str, Any], blobs: dict[str, bytes], rows: dict[str, int] | None = None) -> bytes:
    """A bundle signed with the partner's own key, with exactly these parts (and declared row counts)."""
    parts, offset = [], 0
    for kind, blob in blobs.items():
        declared = (rows or {}).get(kind, pq.ParquetFile(io.BytesIO(blob)).metadata.num_rows if blob[:4] == b"PAR1"
                                    else 1)
        parts.append({"kind": kind, "offset": offset, "length": len(blob), "rows": declared})
        offset += len(blob)
    head = json.dumps({**manifest, "parts": parts}, sort_keys=True, separators=(",", ":")).encode()
    payload = MAGIC + len(head).to_bytes(8, "big") + head + b"".join(blobs.values())
    return seal(BUNDLE_TYPE, payload, us.signing_key, key_id(us.public_key_pem))


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _rejections(node: Node) -> list[str]:
    with node.open_store() as store:
        return [e["reason"] for e in log.entries(store, 1000, "import_rejected")]


def _with_owner(table: pa.Table, owner: str, rows: int = 1) -> pa.Table:
    owners = pa.array([owner] * rows + [None] * (table.num_rows - rows), pa.string())
    if "owner_node" in table.column_names:
        return table.set_column(table.column_names.index("owner_node"), "owner_node", owners)
    return table.append_column("owner_node", owners)


def test_records_claiming_a_third_owner_are_refused(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    manifest, blobs = _open(us, _export(us, mx))
    seizures = pq.read_table(io.BytesIO(blobs["seizure"]))
    forged = _seal(us, manifest, {**blobs, "seizure": _parquet(_with_owner(seizures, "zz-node"))})
    with mx.open_store() as store, pytest.raises(BundleError, match="another owner than the sender us-hsi") as err:
        import_bundle(mx, store, forged)
    assert "zz-node (1)" in str(err.value) and "onward transfer" in str(err.value)
    with mx.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node <> 'mx-fgr'") == 0
    assert len(_rejections(mx)) == 1 and "zz-node" in _rejections(mx)[0]
    honest = _seal(us, manifest, blobs)  # the same bundle unaltered still imports (nulls become the sender)
    with mx.open_store() as store:
        assert import_bundle(mx, store, honest).records == seizures.num_rows


def test_onward_transfer_agreement_accepts_other_owners(make_node: Any) -> None:
    us, mx = pair(make_node)
    install(us, mx, agreement_doc(us, mx, onward_transfer=True))
    manifest, blobs = _open(us, _export(us, mx))
    seizures = _with_owner(pq.read_table(io.BytesIO(blobs["seizure"])), "zz-node")
    ids = seizures.column("id").to_pylist()  # a third node's record is named by it (zz-node:seizure:...)
    ids[0] = ids[0].replace("us-hsi:", "zz-node:", 1)
    seizures = seizures.set_column(seizures.column_names.index("id"), "id", pa.array(ids))
    with mx.open_store() as store:
        import_bundle(mx, store, _seal(us, manifest, {**blobs, "seizure": _parquet(seizures)}))
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = 'zz-node'") == 1


MALFORMED: dict[str, Callable[[dict[str, Any], dict[str, bytes]], tuple[dict[str, Any], dict[str, bytes],
                                                                       dict[str, int] | None]]] = {
    "not parquet": lambda m, b: (m, {**b, "seizure": b"garbage, not Parquet " * 50}, None),
    "rows understated": lambda m, b: (m, b, {"seizure": 1}),
    "rows overstated": lambda m, b: (m, b, {"seizure": 10_000}),
    "deleted not a mapping": lambda m, b: ({**m, "deleted": "everything"}, b, None),
    "unknown kind": lambda m, b: (m, {**b, "no_such_kind": b["seizure"]}, None),
    "part twice": lambda m, b: (m, b, None),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_bundles_signed_by_the_partner_are_refused_and_audited(nodes: tuple[Node, Node], case: str) -> None:
    us, mx = nodes
    manifest, blobs = _open(us, _export(us, mx))
    manifest, blobs, rows = MALFORMED[case](manifest, blobs)
    data = _seal(us, manifest, blobs, rows)
    if case == "part twice":
        m, body = read_manifest(open_envelope(data).verify(us.public_key))
        m["parts"] = m["parts"] * 2
        head = json.dumps(m, sort_keys=True, separators=(",", ":")).encode()
        data = seal(BUNDLE_TYPE, MAGIC + len(head).to_bytes(8, "big") + head + bytes(body), us.signing_key,
                    key_id(us.public_key_pem))
    with mx.open_store() as store, pytest.raises(BundleError):
        import_bundle(mx, store, data)
    with mx.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node <> 'mx-fgr'") == 0
    assert len(_rejections(mx)) == 1


_PEAK = """
import json, sys
from pathlib import Path

def peak_mb():  # VmHWM belongs to this program's memory map (ru_maxrss would include the forked parent's)
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmHWM"))) / 1024

from puente.errors import BundleError
from puente.node import Node
from puente.share.receive import import_bundle
node = Node.load(Path(sys.argv[1]))
data = Path(sys.argv[2]).read_bytes()
with node.open_store() as store:
    opened = peak_mb()
    try:
        import_bundle(node, store, data)
        reason = "imported"
    except BundleError as exc:
        reason = str(exc)
print(json.dumps({"peak_mb": peak_mb(), "opened_mb": opened,
                  "reason": reason}))
"""


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PUENTE_")}, "PYTHONPATH": str(REPO)}


def test_zip_bomb_is_refused_with_bounded_memory(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    us, mx = nodes
    manifest, _blobs = _open(us, _export(us, mx))
    rows = 2_000_000  # x ~1 KB each: about 2 GB once decoded, a few hundred KB compressed
    text = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * 1000]))
    ident = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["us-hsi:seizure:bomb"]))
    bomb = _parquet(pa.table({"id": ident, "drug": text, "notes": text}))
    assert len(bomb) < 2 * MB
    path = tmp_path / "bomb.bundle"
    path.write_bytes(_seal(us, manifest, {"seizure": bomb}))
    with mx.open_store() as store:  # so the child measures the import, not DuckDB replaying the WAL on open
        if store.dialect == "duckdb":
            store.execute("CHECKPOINT")
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(mx.home), str(path)], capture_output=True, text=True,
                          env=_env(), timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "decompresses to more than" in result["reason"], result
    print(f"zip bomb: peak {result['peak_mb']:.0f} MB, {result['opened_mb']:.0f} MB with the store open")
    assert result["peak_mb"] < 300, result
    assert len(_rejections(mx)) == 1 and "zip bomb" in _rejections(mx)[0]


@pytest.fixture
def server(make_node: Any, tmp_path: Path) -> Iterator[tuple[Node, str, str, subprocess.Popen[bytes]]]:
    """`puente serve` in its own process on a node with a partner-node account; yields (node, url, token, process)."""
    from puente.api import auth

    node = make_node("us-hsi", "US")
    with node.open_store() as store:
        auth.add_user(store, "partner", "partner-node", None, partner="mx-fgr")
        token = auth.issue_token(store, "partner")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "puente", "--home", str(node.home), "serve", "--port", str(port)],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/api/v1/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield node, url, token, proc
    finally:
        proc.terminate()
        proc.wait(30)


def _peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


def test_oversized_push_streams_to_disk_and_is_refused(
        server: tuple[Node, str, str, subprocess.Popen[bytes]]) -> None:
    node, url, token, proc = server
    chunk = b"\0" * MB
    idle = _peak_mb(proc.pid)

    def body() -> Iterator[bytes]:  # 600 MB without a Content-Length: the server must count as it streams
        for _ in range(600):
            yield chunk

    response = httpx.post(f"{url}/api/v1/bundles/import", content=body(), timeout=300,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.puente.bundle"})
    assert response.status_code == 413, response.text
    peak = _peak_mb(proc.pid)
    print(f"server peak memory: {idle:.0f} MB started, {peak:.0f} MB after a 600 MB push")
    # the idle server (app, model, store) is the baseline; the push itself must cost next to nothing
    # (it grew the server by ~900 MB before it streamed to disk)
    assert peak - idle < 64, (idle, peak)
    garbage = httpx.post(f"{url}/api/v1/bundles/import", content=b"{}", timeout=60,
                         headers={"Authorization": f"Bearer {token}"})
    assert garbage.status_code == 422
    proc.terminate()
    proc.wait(30)  # the DuckDB store is free again
    assert not list((node.home / "incoming").iterdir())
    reasons = _rejections(node)
    assert len(reasons) == 2 and "bundle too large" in reasons[0] and "not a DSSE envelope" in reasons[1]


def test_exports_and_analytics_of_partner_records_are_audited(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    us, mx = nodes
    with mx.open_store() as store:
        shared = import_bundle(mx, store, _export(us, mx)).records
    assert shared > 0
    proc = run(mx.home, "export", "seizure", "-o", str(tmp_path / "all.csv"))
    assert proc.returncode == 0, proc.stderr
    engine = "postgres" if mx.store_url.startswith("postgres") else "duckdb"
    proc = run(mx.home, "analyze", "hotspots", "--engine", engine, "-o", str(tmp_path / "analysis"))
    assert proc.returncode == 0, proc.stderr
    with mx.open_store() as store:
        export, analysis = log.entries(store, 1, "export_file")[0], log.entries(store, 1, "analyze")[0]
        total = store.scalar("SELECT COUNT(*) FROM seizure")
        assert export["records"] == total and f"{shared} of them partner records (owners: us-hsi)" in export["reason"]
        assert analysis["records"] == shared and "analysis hotspots" in analysis["reason"]
        ids = log.entry_records(store, analysis["index"])
        assert set(ids) == {r[0] for r in store.query("SELECT id FROM seizure WHERE owner_node = 'us-hsi'")}
