"""People, vehicles, companies and links as each country's agencies record them (with noise).

Every record of a person, vehicle or company gets its own reference (source_id), as a new case
file would; the truth maps each reference to the actor's true id, so linking can be scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from puente.simulate.world import World, strip_accents, typo
from puente.simulate.writer import TableWriter, TruthWriter

_O_TO_0 = str.maketrans({"O": "0", "0": "O", "I": "1", "1": "I", "S": "5", "B": "8"})


class NodeRecords:
    """The person/vehicle/organization/link files of one country, and the identity truth."""

    def __init__(self, country: str, world: World, rng: np.random.Generator, persons: TableWriter,
                 vehicles: TableWriter, orgs: TableWriter, links: TableWriter, identities: TruthWriter) -> None:
        self.country = country
        self.world = world
        self.rng = rng
        self.w = {"person": persons, "vehicle": vehicles, "organization": orgs, "link": links}
        self.identities = identities
        self.counter = {"person": 0, "vehicle": 0, "organization": 0}
        self.oneoff = 0
        self.company_ref: dict[str, str] = {}  # company id -> its (single) organization record ref
        self.buf: dict[str, list[dict[str, Any]]] = {"person": [], "vehicle": [], "organization": [], "link": []}
        self.truth: list[dict[str, Any]] = []

    def _ref(self, kind: str) -> str:
        self.counter[kind] += 1
        prefix = {"person": "PER", "vehicle": "VEH", "organization": "ORG"}[kind]
        return f"{self.country}-{prefix}-{self.counter[kind]:07d}"

    # -- people -------------------------------------------------------------------------------
    def people(self, person_ids: list[str], event_kind: str, event_refs: list[str], role: str) -> list[str]:
        """Write one person record per (event, person); '' in person_ids makes a one-off person."""
        rng, rate = self.rng, self.world.sc.rate
        rows: list[dict[str, Any]] = []
        truth: list[dict[str, Any]] = []
        refs = []
        missing = rate("missing_optional")
        for pid, event_ref in zip(person_ids, event_refs):
            ref = self._ref("person")
            refs.append(ref)
            if pid:
                p = self.world.people[pid]
                variant = p.variants[0] if rng.random() >= rate("name_variant") else \
                    p.variants[int(rng.integers(1, len(p.variants)))]
                row = dict(variant, source_id=ref, alias=p.alias if rng.random() > missing else "",
                           birth_date=p.birth if rng.random() > missing * 2 else None,
                           nationality=_nationality(p.nationality, self.country, rng))
                if self.country == "MX" and p.curp and rng.random() > 0.3:
                    row["curp"] = p.curp
                entity = pid
            else:
                row, entity = self._oneoff(ref)
            rows.append(row)
            truth.append({"file": self.w["person"].spec.path, "source_id": ref, "kind": "person",
                          "entity_id": entity})
            if event_ref:
                self.link(event_kind, event_ref, "person", ref, role)
        self._buffer("person", rows, truth)
        return refs

    def _oneoff(self, ref: str) -> tuple[dict[str, Any], str]:
        rng, names = self.rng, self.world.sc.names
        self.oneoff += 1
        entity = f"P-{self.country}X{self.oneoff:07d}"
        if self.country == "MX" or rng.random() < 0.5:
            given = str(rng.choice(names["mx_given_male"] if rng.random() < 0.8 else names["mx_given_female"]))
            s1, s2 = (str(x) for x in rng.choice(names["mx_surnames"], 2))
        else:
            given, s1, s2 = str(rng.choice(names["us_given"])), str(rng.choice(names["us_surnames"])), ""
        birth = np.datetime64("1965-01-01") + int(rng.integers(0, 365 * 38))
        row = {"source_id": ref, "given_names": given, "surname1": s1, "surname2": s2, "birth_date": birth,
               "nationality": "México" if self.country == "MX" else str(rng.choice(["USA", "MEX", "US"]))}
        return row, entity

    # -- vehicles ------------------------------------------------------------------------------
    def vehicles(self, vehicle_ids: list[str], event_kind: str, event_refs: list[str]) -> list[str]:
        rng = self.rng
        rows, truth, refs = [], [], []
        for vid, event_ref in zip(vehicle_ids, event_refs):
            v = self.world.vehicles[vid]
            ref = self._ref("vehicle")
            refs.append(ref)
            plate = plate_variant(v.plate, rng)
            vin = v.vin if rng.random() > 0.25 else ""
            if vin and rng.random() < 0.05:
                i = int(rng.integers(3, 17))
                vin = vin[:i] + str(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))) + vin[i + 1:]
            rows.append({"source_id": ref, "plate": plate, "plate_state": v.plate_state if rng.random() > 0.1 else "",
                         "plate_country": v.plate_country if rng.random() > 0.2 else "", "vin": vin,
                         "make": v.make if rng.random() > 0.05 else v.make.title(), "model": v.model})
            truth.append({"file": self.w["vehicle"].spec.path, "source_id": ref, "kind": "vehicle",
                          "entity_id": vid})
            self.link(event_kind, event_ref, "vehicle", ref, "vehicle")
            if v.owner and rng.random() < 0.3:
                (owner_ref,) = self.people([v.owner], "", [""], "owner")
                self.link("vehicle", ref, "person", owner_ref, "owner")
        self._buffer("vehicle", rows, truth)
        return refs

    # -- companies ------------------------------------------------------------------------------
    def company(self, cid: str) -> str:
        """The company's record reference in this country, written the first time it is needed.
        A company is recorded again (a second reference, a spelling variant) now and then."""
        if cid in self.company_ref and self.rng.random() > 0.05:
            return self.company_ref[cid]
        c = self.world.companies[cid]
        ref = self._ref("organization")
        name = c.variants[0] if cid not in self.company_ref else c.variants[int(self.rng.integers(len(c.variants)))]
        self.company_ref.setdefault(cid, ref)
        org_type = {"front": "importadora" if self.country == "MX" else "importer", "importer": "importadora",
                    "exporter": "exportador" if self.country == "MX" else "exporter", "ffl": "FFL"}[c.kind]
        tax = c.tax_id if c.kind != "ffl" else ""
        self._buffer("organization", [{"source_id": ref, "name": name, "tax_id": tax, "country": c.country,
                                       "org_type": org_type}],
                     [{"file": self.w["organization"].spec.path, "source_id": ref, "kind": "organization",
                       "entity_id": cid}])
        if c.owner and c.kind == "front":
            (owner_ref,) = self.people([c.owner], "", [""], "owner")
            self.link("organization", ref, "person", owner_ref, "owner")
        return ref

    # -- links --------------------------------------------------------------------------------
    def link(self, from_kind: str, from_ref: str, to_kind: str, to_ref: str, role: str) -> None:
        if not from_ref or not to_ref:
            return
        self._buffer("link", [{"from_kind": from_kind, "from_ref": from_ref, "to_kind": to_kind,
                               "to_ref": to_ref, "role": role}], [])

    def _buffer(self, kind: str, rows: list[dict[str, Any]], truth: list[dict[str, Any]]) -> None:
        self.buf[kind].extend(rows)
        self.truth.extend(truth)
        if len(self.buf[kind]) >= 20_000:
            self.flush()

    def flush(self) -> None:
        for kind, rows in self.buf.items():
            if rows:
                self.w[kind].write(pd.DataFrame(rows))
                self.buf[kind] = []
        if self.truth:
            self.identities.write(pd.DataFrame(self.truth))
            self.truth = []


def _nationality(code: str, country: str, rng: np.random.Generator) -> str:
    if country == "MX":
        return {"MX": str(rng.choice(["Mexicana", "México", "MEX"])), "US": "Estadounidense"}[code]
    return {"MX": str(rng.choice(["Mexico", "MEX", "MX"])), "US": str(rng.choice(["USA", "United States"]))}[code]


def plate_variant(plate: str, rng: np.random.Generator) -> str:
    """How a plate gets written down: dashes and spaces vary, case varies, a character misread."""
    compact = plate.replace("-", "")
    r = rng.random()
    if r < 0.4:
        text = plate
    elif r < 0.7:
        text = compact
    elif r < 0.85:
        text = " ".join([compact[:3], compact[3:]])
    elif r < 0.95:
        text = plate.lower()
    else:
        i = int(rng.integers(len(compact)))
        text = compact[:i] + compact[i].translate(_O_TO_0) + compact[i + 1:]
    return text


def serial_variant(serial: str, rng: np.random.Generator) -> str:
    """Serial numbers as recorded: separators, case, O/0 confusion, a dropped leading zero."""
    r = rng.random()
    if r < 0.55:
        return serial
    if r < 0.75:
        return serial.replace("-", "").replace(" ", "")
    if r < 0.85:
        return serial.lower()
    if r < 0.95:
        i = int(rng.integers(len(serial)))
        return serial[:i] + serial[i].translate(_O_TO_0) + serial[i + 1:]
    return typo(serial, rng) if len(serial) > 4 else serial


__all__ = ["NodeRecords", "plate_variant", "serial_variant", "strip_accents"]
