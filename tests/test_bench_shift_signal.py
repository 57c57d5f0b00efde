"""bench/shift_signal.py classes each seizure record by kind and by the U.S. places it names as the flows do:
an interior place counts, a stated destination counts only where the record has no interior place."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from bench.shift_signal import records

ROWS = [
    # file, source_id, place_id, place_name, place_country, port_id, port_text, destination_id, destination_name, country
    ("interior_seizures.csv", "I-1", "US-MEM", "Memphis", "US", None, None, "US-BOS", "Boston", "US"),
    ("cbp_seizures.csv", "C-1", "POE-PHR", "Pharr", "US", "POE-PHR", "Pharr", "US-BOS", "Boston", "US"),
    ("cbp_seizures.csv", "C-2", "US-SAR", "Sarita", "US", None, "Sarita checkpoint", "POE-LRD", "Laredo", "US"),
    ("cbp_seizures.csv", "C-3", "US-CHI", "Chicago", "US", "AOR-CHICAGO", "Chicago", None, None, None),
    ("aseguramientos.csv", "M-1", "MX-REY", "Reynosa", "MX", None, None, "US-PIT", "Pittsburgh", "US"),
    ("interior_seizures.csv", "H-1", "US-NYC", "New York", "US", "POE-HID", "Hidalgo", None, None, None),
]


def test_records_name_the_places_the_flows_use(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    con = duckdb.connect(str(store))
    con.execute("""CREATE TABLE seizure (source_file VARCHAR, source_id VARCHAR, date DATE, place_id VARCHAR,
                   place_name VARCHAR, place_admin1 VARCHAR, place_country VARCHAR, port_id VARCHAR, port_text VARCHAR,
                   destination_id VARCHAR, destination_name VARCHAR, destination_admin1 VARCHAR,
                   destination_country VARCHAR)""")
    for f, sid, pid, pname, pc, port, ptext, did, dname, dc in ROWS:
        con.execute("INSERT INTO seizure VALUES (?, ?, DATE '2021-03-05', ?, ?, NULL, ?, ?, ?, ?, ?, NULL, ?)",
                    [f, sid, pid, pname, pc, port, ptext, did, dname, dc])
    con.close()
    got = records(store).set_index("source_id")
    assert got.loc["I-1", ["kind", "place", "stated"]].tolist() == ["interior", "Memphis", "Boston"]
    assert got.loc["C-1", ["kind", "stated"]].tolist() == ["cbp port", "Boston"] and pd.isna(got.loc["C-1", "place"])
    # a checkpoint is a stop on the way, not a place a load goes; a port of entry is never a destination
    assert got.loc["C-2", "kind"] == "cbp checkpoint" and got.loc["C-2", ["place", "stated"]].isna().all()
    assert got.loc["C-3", "kind"] == "cbp mail" and got.loc["C-3", ["place", "stated"]].isna().all()
    assert got.loc["M-1", ["kind", "stated"]].tolist() == ["mexico", "Pittsburgh"]
    assert got.loc["H-1", "kind"] == "hsi of cbp case" and got.loc["H-1", ["place", "stated"]].isna().all()
    assert int(got.loc["I-1", "m"]) == 2021 * 12 + 2
