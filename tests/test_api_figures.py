"""The map's figures equal the export's (issue 16 item 1): the map draws at most the newest 5,000
seizures, so its record count and kilograms come from the server-side aggregate over every match;
that aggregate must agree with a CSV export of the same filters, for every filter and scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from api_seed import bearer, build_env

from puente.api.app import web_dir

PURPOSE = "Corridor analysis for case 2024-117"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    client, tokens, us, _mx = build_env(tmp_path_factory.mktemp("figures"))
    with client:
        yield client, tokens, us


FILTERS: list[dict[str, str]] = [
    {}, {"drug": "fentanyl"}, {"country": "MX"}, {"country": "US"},
    {"date_from": "2023-01-01", "date_to": "2023-12-31"},
]


@pytest.mark.parametrize("purpose", [None, PURPOSE])
@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_map_figures_equal_the_export(env, flt: dict[str, str], purpose: str | None) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us = env
    h = bearer(tokens["analyst"])
    scope = {"purpose": purpose} if purpose else {}
    stats = client.get("/api/v1/stats/monthly", params={"kind": "seizure", **flt, **scope}, headers=h)
    assert stats.status_code == 200, stats.text
    export = client.get("/api/v1/records/seizure", params={"format": "csv", **flt, **scope}, headers=h)
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    records = sum(r["records"] for r in stats.json())
    kg = sum(r["kg"] or 0 for r in stats.json())
    partner = sum(r["records"] for r in stats.json() if r["owner"] != us.name)
    assert records == len(rows)
    assert kg == pytest.approx(sum(float(r["quantity_kg"] or 0) for r in rows), abs=1e-6)
    assert partner == sum(1 for r in rows if r["owner_node"] != us.name)
    if purpose and not flt:
        assert partner > 0  # the partner's records are in both figures
    # the map draws a page (here: 2 features) but its total is every match, like the export
    page = client.get("/api/v1/records/seizure", params={"format": "geojson", "per_page": 2, **flt, **scope}, headers=h)
    assert page.json()["total"] == len(rows)
    assert len(page.json()["features"]) == min(2, len(rows))


def test_the_map_takes_its_figures_from_the_aggregate() -> None:
    """The map page sums the server's aggregate, and says on screen when it draws a sample."""
    js = (web_dir() / "static" / "js" / "map.js").read_text(encoding="utf-8")
    assert '"/api/v1/stats/monthly"' in js and "map_sampled" in js
    strings = (web_dir() / "static" / "js" / "i18n.js").read_text(encoding="utf-8")
    assert strings.count("map_sampled:") == 2 and strings.count("map_sampled_q:") == 2  # English and Spanish
