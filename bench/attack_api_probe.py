"""The partner's and the purpose-less analyst's probe of WITHHELD over the API (attack9), on a `puente demo` pair.

Installs (on a copy of the demo) an agreement version that withholds, rounds and pseudonymizes other fields than
the demo's, then, as the Mexican node's partner account reading the U.S. node and as a U.S. analyst without a
purpose, sends the filters, searches, pagination, aggregates and exports an attacker would, and reports for each:
the status, and whether the body holds a value only the withheld or coarsened columns hold (an exact seizure
date, a raw case number, a note, an exact kilogram figure, a place's written text), and count deltas between
queries that differ only by a filter on a withheld field.

    PYTHONPATH=. python -m bench.attack_api_probe puente-demo
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from puente.node import Node
from puente.share import registry

KINDS: dict[str, Any] = {
    "seizure": {"records": [{"field": "drug", "in": ["fentanyl", "methamphetamine"]}],
                "fields": {"date": {"transform": "truncate_date", "to": "month"},
                           "place": {"transform": "generalize_place", "to": "h3", "resolution": 4},
                           "port": "keep", "drug": "keep", "form": "keep", "conveyance": "keep",
                           "quantity_kg": {"transform": "round", "step": 5}, "source_id": "pseudonymize",
                           "notes": "drop", "pill_stamp": "match_only"}},
    "person": {"fields": {"given_names": "match_only", "surname1": "match_only", "surname2": "match_only",
                          "birth_date": "match_only", "nationality": "keep", "admin1": "keep",
                          "locality": {"transform": "generalize_place", "to": "admin2"}}},
    "firearm_trace": {"fields": {"make": "keep", "weapon_type": "keep", "caliber": "keep",
                                 "recovery_date": {"transform": "truncate_date", "to": "week"},
                                 "serial": "pseudonymize", "recovery_place": {"transform": "generalize_place",
                                                                             "to": "admin2"}}},
    "link": {"fields": {f: "keep" for f in ("from_kind", "to_kind", "role", "from_id", "to_id", "from_ref", "to_ref")}},
}


def install(us: Node, mx: Node, folder: Path) -> str:
    """The next version of the demo's agreement with these kinds, signed by both nodes through the CLI."""
    with us.open_store() as store:
        current, _ = registry.current(store, mx.name)
    doc = {**current.doc, "version": current.version + 1, "kinds": KINDS}
    doc.pop("classes", None)
    path = folder / "agreement.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    for home in (us.home, mx.home, us.home):  # the U.S. node signs, the Mexican node signs and installs, then the U.S.
        subprocess.run([sys.executable, "-m", "puente", "--home", str(home), "share", "agreement", "sign", str(path)],
                       check=True, capture_output=True)
    return f"{current.id} v{current.version + 1}"


def secrets(us: Node) -> dict[str, Any]:
    """What only the withheld or coarsened columns hold, for the probe to look for in every body."""
    with us.open_store() as store:
        rows = store.query("SELECT CAST(date AS TEXT), source_id, notes, quantity_kg, place_text FROM seizure "
                           "WHERE owner_node = ? AND drug IN ('fentanyl', 'methamphetamine')", [us.name])
        ports = {v for r in store.query("SELECT DISTINCT port_text, port_name FROM seizure") for v in r if v}
    dates = {d for d, *_ in rows if d and not d.endswith("-01")}
    return {"dates": dates, "case numbers": {r[1] for r in rows if r[1]},
            "notes": {r[2] for r in rows if r[2] and len(r[2]) > 12},
            "kg": {str(r[3]) for r in rows if r[3] and len(str(r[3])) >= 6},  # e.g. 12.345: never a multiple of 5
            "place text": {t for t in {r[4] for r in rows if r[4] and len(r[4]) > 8}
                           if not any(t in p for p in ports)}}  # 'Baltimore' is in the kept port's name


def analyst_secrets(us: Node) -> dict[str, Any]:
    """What a U.S. analyst without a purpose may not see: partner records, and sensitive identifiers."""
    with us.open_store() as store:
        partner_ids = {r[0] for k in ("seizure", "person", "firearm_trace", "vehicle")
                       for r in store.query(f"SELECT id FROM {k} WHERE owner_node <> ?", [us.name])}
        births = {r[0] for r in store.query("SELECT CAST(birth_date AS TEXT) FROM person WHERE birth_date IS NOT NULL")}
        curps = {r[0] for r in store.query("SELECT curp FROM person WHERE curp IS NOT NULL")}
    return {"partner record ids": partner_ids, "birth dates": births, "curps": curps}


PARTNER_GETS = [
    "/api/v1/records/seizure", "/api/v1/records/seizure?per_page=500", "/api/v1/records/seizure?format=csv",
    "/api/v1/records/seizure?format=parquet", "/api/v1/records/seizure?format=geojson",
    "/api/v1/records/seizure?date_from=2021-01-01", "/api/v1/records/seizure?q=US-",
    "/api/v1/records/seizure?q=door", "/api/v1/records/seizure?bbox=-120,30,-100,40",
    "/api/v1/records/seizure?admin1=Arizona", "/api/v1/records/seizure?drug=fentanyl",
    "/api/v1/records/seizure?drug=cocaine", "/api/v1/records/person", "/api/v1/records/person?q=a",
    "/api/v1/records/firearm_trace", "/api/v1/records/firearm_trace?format=csv", "/api/v1/records/link",
    "/api/v1/records/link?per_page=500", "/api/v1/records/vehicle", "/api/v1/records/organization",
    "/api/v1/stats/monthly", "/api/v1/stats/monthly?drug=fentanyl", "/api/v1/stats/by-place",
    "/api/v1/stats/by-place?level=port", "/api/v1/stats/by-place?level=name", "/api/v1/map/summary",
    "/api/v1/map/summary?bin=always&resolution=9", "/api/v1/map/summary?drug=fentanyl&date_from=2021-01-01",
    "/api/v1/map/flows", "/api/v1/analytics/corridors?purpose=probe+probe", "/api/v1/status", "/api/v1/scorecard",
    "/api/v1/agreements", "/api/v1/agreements/withheld", "/api/v1/entities/x", "/api/v1/hits/inbox",
    "/api/v1/audit/entries", "/api/v1/access-log", "/api/v1/model",
]


ANALYST_GETS = ["/api/v1/records/seizure?owner=partner", "/api/v1/records/seizure?owner=mx-node",
                "/api/v1/records/person?q=19", "/api/v1/records/person?format=csv", "/api/v1/map/summary?owner=partner",
                "/api/v1/records/link?per_page=500", "/api/v1/analytics/corridors/flow?purpose=x"]


def probe(client: TestClient, token: str, paths: list[str], secret: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        body = r.content.decode("utf-8", "replace")
        found = {name: sorted(v for v in values if v in body)[:3] for name, values in secret.items()}
        columns = sorted(r.json()["items"][0]) if path.endswith(("/seizure", "/person", "/link")) and r.json().get(
            "items") else None
        out.append({"path": path, "status": r.status_code, "columns": columns, "total": r.headers.get("X-Total-Count"),
                    "leaks": {k: v for k, v in found.items() if v},
                    "detail": (r.json().get("detail") if r.status_code >= 400 and r.headers.get(
                        "content-type", "").startswith("application/") and body.startswith("{") else None)})
    return out


def main() -> None:
    demo = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        for n in ("us-node", "mx-node"):
            shutil.copytree(demo / n, Path(tmp) / n)
        us, mx = Node.load(Path(tmp) / "us-node"), Node.load(Path(tmp) / "mx-node")
        agreement = install(us, mx, Path(tmp))
        secret = secrets(us)
        from puente.api import auth
        from puente.api.app import create_app

        with us.open_store() as store:
            auth.add_user(store, "probe-analyst", "analyst", "probe-password-1")
            analyst = auth.issue_token(store, "probe-analyst")
        partner_token = (mx.home / "keys" / f"partner-{us.name}.token").read_text().strip()
        with TestClient(create_app(us)) as client:
            report = {"agreement": agreement,
                      "secrets": {k: len(v) for k, v in secret.items()},
                      "partner": probe(client, partner_token, PARTNER_GETS, secret),
                      "analyst without purpose": probe(client, analyst, PARTNER_GETS + ANALYST_GETS, analyst_secrets(us))}
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
