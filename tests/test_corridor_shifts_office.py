"""The port route-shift monitor tests each port against its own CBP field office: a surge of a whole field
office (all its ports together) is no shift, a port taking its office's loads is."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pandas as pd
import yaml

from puente.analyze.shifts import shift_monitors
from puente.geo.gazetteer import port_field_offices


def _flows() -> pd.DataFrame:
    months = pd.date_range("2021-01-01", periods=12, freq="MS")
    rows = []
    for i, m in enumerate(months):
        surge = 5 if i >= 6 else 1  # the El Paso field office's seizures quintuple from month 7 (both ports)
        moved = i >= 6  # Douglas takes most of the Tucson field office's loads from Nogales from month 7
        loads = {"San Ysidro": 200, "Otay Mesa": 100, "Nogales DeConcini": 20 if moved else 60,
                 "Douglas": 60 if moved else 20, "El Paso": 12 * surge, "Ysleta": 8 * surge}
        for port, n in loads.items():
            rows.append({"period": m, "origin": "?", "crossing": port, "destination": f"{port} destination",
                         "events": n, "loads": n, "kg": float(n), "pills": 0})
    return pd.DataFrame(rows)


def _port_alarms(shifts: pd.DataFrame) -> set[str]:
    return set(shifts.loc[(shifts["level"] == "port") & shifts["shift"].astype(bool), "crossing"])


def test_a_field_office_surge_is_no_port_shift_and_a_port_taking_its_office_is() -> None:
    flows = _flows()
    within = shift_monitors(flows)
    assert _port_alarms(within) == {"Douglas"}
    douglas = within[(within["level"] == "port") & (within["crossing"] == "Douglas") & within["shift"]]
    assert set(douglas["field_office"]) == {"TUCSON FIELD OFFICE"}
    assert douglas["period"].min() == pd.Timestamp("2021-07-01")
    # the same pairs are tested within the office too: El Paso's pairs surge with their office
    pairs = within[(within["level"] == "port_destination") & within["shift"].astype(bool)]
    assert set(pairs["crossing"]) == {"Douglas"}
    # against the nation (the old monitor), the El Paso field office's surge alarms on both of its ports
    national = shift_monitors(flows, within_office=())
    assert {"El Paso", "Ysleta", "Douglas"} <= _port_alarms(national)


def test_every_border_port_has_the_field_office_the_simulator_uses() -> None:
    """The product's port → field office table (geo data) and the simulator's (scenario.yaml) agree."""
    offices = port_field_offices()
    scenario = yaml.safe_load(resources.files("puente.simulate").joinpath("scenario.yaml").read_text(encoding="utf-8"))
    sim = {code: aor for aor, codes in scenario["aor_ports"].items() for code in codes}
    assert {k[4:]: v for k, v in offices.items() if k.startswith("POE-")} == sim
    rows = csv.DictReader(io.StringIO(resources.files("puente.geo").joinpath("data", "ports_compiled.csv")
                                      .read_text(encoding="utf-8")))
    for row in rows:  # every U.S. land port has one, no Mexican port does
        assert bool(row["field_office"]) == (not row["state"].startswith("MX-")), row["code"]
