"""The scenario's inputs: scenario.yaml, names.yaml, the real CBP fentanyl series, port volumes, places.

Everything here is read from inside the package (no ../shared at run time).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from puente.errors import ConfigError
from puente.geo.gazetteer import Gazetteer, Place, load_gazetteer

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)


def _read_text(package: str, *parts: str) -> str:
    return resources.files(package).joinpath(*parts).read_text(encoding="utf-8")


def month_index(period: str, start: str) -> int:
    y, m = (int(x) for x in period.split("-"))
    y0, m0 = (int(x) for x in start.split("-"))
    return (y - y0) * 12 + (m - m0)


@dataclass(frozen=True)
class Port:
    code: str
    name: str
    state: str
    lat: float
    lon: float
    twin: str  # Mexican municipality facing the port
    twin_state: str
    volume: float
    aliases: tuple[str, ...]


class Scenario:
    """Parameters and reference tables; built once per run."""

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.p: dict[str, Any] = params or load_yaml(_read_text("puente.simulate", "scenario.yaml"))
        self.names: dict[str, Any] = load_yaml(_read_text("puente.simulate", "data", "names.yaml"))
        self.gazetteer: Gazetteer = load_gazetteer()
        start, end = str(self.p["period"]["start"]), str(self.p["period"]["end"])
        self.start = start
        first = dt.date(int(start[:4]), int(start[5:7]), 1)
        count = month_index(end, start) + 1
        self.periods = [f"{(first.month - 1 + i) // 12 + first.year:04d}-{(first.month - 1 + i) % 12 + 1:02d}"
                        for i in range(count)]
        self.month_starts = np.array([np.datetime64(p + "-01") for p in self.periods], dtype="datetime64[D]")
        self.month_days = (np.append(self.month_starts[1:], np.datetime64(_next_month(self.periods[-1])))
                           - self.month_starts).astype(np.int64)

    # -- reference tables --------------------------------------------------------------
    @cached_property
    def ports(self) -> dict[str, Port]:
        volumes = {row["code"]: float(row["vehicles_per_month"]) for row in csv.DictReader(
            _read_text("puente.simulate", "data", "port_volumes.csv").splitlines())}
        ports = {}
        for row in csv.DictReader(_read_text("puente.geo", "data", "ports_compiled.csv").splitlines()):
            ports[row["code"]] = Port(row["code"], row["name"], row["state"], float(row["lat"]), float(row["lon"]),
                                      row["twin_municipality"], row["twin_state"], volumes.get(row["code"], 0.0),
                                      tuple(a for a in row["aliases"].split("|") if a))
        return ports

    @cached_property
    def cities(self) -> pd.DataFrame:
        rows = list(csv.DictReader(_read_text("puente.geo", "data", "us_cities_compiled.csv").splitlines()))
        frame = pd.DataFrame(rows)
        frame["population"] = frame["population"].astype(float)
        return frame.set_index("name")

    @cached_property
    def aor_hq(self) -> dict[str, tuple[str, str]]:
        rows = csv.DictReader(_read_text("puente.geo", "data", "aors_compiled.csv").splitlines())
        return {r["aor"]: (r["city"], r["state"]) for r in rows}

    @cached_property
    def cbp_fentanyl(self) -> pd.DataFrame:
        """The real CBP fentanyl series: one row per (AOR, component, region, month) with events and pounds."""
        path = resources.files("puente").joinpath("data", "nationwide-drugs-fy19-fy22.csv")
        with path.open("r", encoding="utf-8") as handle:
            frame = pd.read_csv(handle)
        frame = frame[frame["Drug Type"] == "Fentanyl"]
        fy = frame["FY"].astype(int)
        month = frame["Month (abbv)"].str.upper().map(_MONTHS).astype(int)
        year = np.where(month >= 10, fy - 1, fy)
        out = pd.DataFrame({
            "period": [f"{y:04d}-{m:02d}" for y, m in zip(year, month)],
            "fiscal_year": fy.to_numpy(), "component": frame["Component"].to_numpy(),
            "region": frame["Region"].to_numpy(), "land_filter": frame["Land Filter"].to_numpy(),
            "aor": frame["Area of Responsibility"].to_numpy(),
            "events": frame["Count of Event"].astype(int).to_numpy(),
            "pounds": frame["Sum Qty (lbs)"].astype(float).to_numpy(),
        })
        out = out[out["period"].isin(self.periods) & (out["pounds"] > 0)]
        return out.sort_values(["period", "aor", "land_filter"]).reset_index(drop=True)

    # -- places --------------------------------------------------------------------------
    def place(self, text: str, country: str, prefer: str = "place") -> Place:
        found = self.gazetteer.resolve(text, country, prefer)
        if found is None:
            raise ConfigError("sim_unknown_place", place=text)
        return found

    def share(self, name: str) -> float:
        return float(self.p["shares"][name])

    def rate(self, name: str) -> float:
        return float(self.p["rates"][name])


def _next_month(period: str) -> str:
    y, m = int(period[:4]), int(period[5:7])
    return f"{y + (m == 12):04d}-{m % 12 + 1:02d}-01"


def weights(mapping: dict[str, float]) -> tuple[list[str], np.ndarray]:
    keys = list(mapping)
    values = np.array([float(mapping[k]) for k in keys])
    return keys, values / values.sum()


def maybe(mask: np.ndarray, values: Any) -> np.ndarray:
    """``values`` where ``mask`` holds, else None (a missing cell); an object array."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = np.asarray(values, dtype=object)[mask] if np.ndim(values) else values
    return out


def groups(values: np.ndarray) -> Iterator[tuple[Any, np.ndarray]]:
    """(value, indices where it occurs) for each distinct value, in one sort (not one scan per value)."""
    if len(values) == 0:
        return
    uniq, inverse = np.unique(values, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    for k, value in enumerate(uniq):
        yield value, order[bounds[k] : bounds[k + 1]]
