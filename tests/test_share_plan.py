"""Export planning is pure: from an agreement alone (no node, no store) it says which records, which fields and
which transforms; its SQL, run on a bare in-memory DuckDB table, gives what the row-by-row reference says."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow as pa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from share_reference import expected
from share_support import SEIZURE_RULES, agreement_doc

from puente.audit.checkpoint import public_key_pem
from puente.ingest.pipeline import schema_for
from puente.model import load_model
from puente.share.agreement import Agreement
from puente.share.plan import ALWAYS, plan_kind, pseudonym_key, select_sql
from puente.store.base import DUCKDB

ID_KEY = b"\x07" * 32


def _party(name: str) -> Any:
    return SimpleNamespace(name=name, public_key_pem=public_key_pem(Ed25519PrivateKey.generate().public_key()))


def _rows() -> list[dict[str, Any]]:
    base = {f.name: None for f in schema_for(load_model().kind("seizure"))}
    return [dict(base, id=f"us-hsi:seizure:{i}", owner_node="us-hsi", source_agency="CBP", source_id=f"US-{i}",
                 date=dt.date(2024, 3, 7 + i), drug=drug, form="pills", quantity_kg=q, pill_stamp="M30",
                 place_id="MX-010010001" if i else None, place_country="MX", port_h3="88498eac17fffff" if i else None,
                 port_country="US",
                 port_admin1="AZ", notes="tip")
            for i, (drug, q) in enumerate([("fentanyl", 2.4), ("cocaine", 7.0), ("methamphetamine", None),
                                           (None, 1.5)])]


def test_plan_names_the_allowed_fields_and_filters_only() -> None:
    doc = agreement_doc(_party("us-hsi"), _party("mx-fgr"))
    agreement = Agreement(doc)
    plan = plan_kind(agreement, "seizure", DUCKDB, pseudonym_key(ID_KEY, agreement.id))
    fields = load_model().kind("seizure").fields
    allowed = set(ALWAYS) | {c for name, rule in SEIZURE_RULES["fields"].items() if rule != "match_only"
                             for c in fields[name].columns()}
    assert set(plan.names) == allowed and "pill_stamp" not in plan.names and "notes" not in plan.names
    assert [p.clause for p in plan.filters] == [f.clause for f in agreement.filters("seizure")]
    assert all("pill_stamp" not in expr and "notes" not in expr for _, expr in plan.columns)


def test_plan_sql_matches_the_row_by_row_reference_without_a_node() -> None:
    doc = agreement_doc(_party("us-hsi"), _party("mx-fgr"))
    agreement = Agreement(doc)
    plan = plan_kind(agreement, "seizure", DUCKDB, pseudonym_key(ID_KEY, agreement.id))
    rows = _rows()
    con = duckdb.connect()
    con.register("seizure", pa.Table.from_pylist(rows, schema=schema_for(load_model().kind("seizure"))))
    for lk in plan.lookups:
        con.execute(lk.ddl(DUCKDB))
        values = sorted({r[lk.source] for r in rows if r[lk.source] is not None})
        con.register("lk_rows", lk.rows(values))
        con.execute(f"INSERT INTO {lk.alias} SELECT * FROM lk_rows")
        con.unregister("lk_rows")
    where, params = plan.where()
    got = {r["id"]: r for r in con.execute(f"{select_sql(plan, 'seizure')} WHERE {where}", params)
           .to_arrow_table().to_pylist()}
    want = expected(doc, "seizure", rows, ID_KEY)
    assert set(got) == set(want) == {"us-hsi:seizure:0", "us-hsi:seizure:2"}  # drug filter; NULL drug fails
    for rid, row in want.items():
        for column, value in row.items():
            assert got[rid].get(column) == value, (rid, column, got[rid].get(column), value)
    assert got["us-hsi:seizure:2"]["place_id"] == "MX-01001"  # generalised to the municipality
    assert str(got["us-hsi:seizure:2"]["source_id"]).startswith("ps:")
    denied_sql, denied_params = plan.denied_sql()
    assert con.execute(f"SELECT {denied_sql} FROM seizure t", denied_params).fetchone() == (2,)
