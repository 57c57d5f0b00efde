"""People, vehicles, companies and links as each country's agencies record them (with noise).

Every record of a person, vehicle or company gets its own reference (source_id), as a new case
file would; the truth maps each reference to the actor's true id, so linking can be scored.
All methods take arrays (one element per record) and buffer frames until a chunk is full.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from puente.model import load_model
from puente.simulate.tables import PLATE_VARIANT_P, OneOffNames, PeopleTable, VehicleTable, misread
from puente.simulate.world import World, typo
from puente.simulate.writer import TableWriter, TruthWriter

FLUSH_ROWS = 50_000
_MX_NAT = np.array(["Mexicana", "México", "MEX"], dtype=object)
_US_NAT_MX = np.array(["Mexico", "MEX", "MX"], dtype=object)
_US_NAT_US = np.array(["USA", "United States"], dtype=object)
_US_ONEOFF_NAT = np.array(["USA", "MEX", "US"], dtype=object)


def _obj(values: object, n: int) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(object)
    return np.full(n, values, dtype=object)


_DATE_TYPOS = ("digit", "swap", "day_month")


def mistype_date(iso: str, kind: str, rng: np.random.Generator) -> str:
    """``iso`` (``YYYY-MM-DD``) with one slip of ``kind``, as a clerk makes it: ``digit`` one digit mistyped,
    ``swap`` two adjacent digits of ``YYYYMMDD`` swapped (FEBRL's substitution and transposition), ``day_month``
    day and month exchanged (dd/mm read as mm/dd). Only a valid date of a plausible year (1940-2010: what the
    files can hold) other than ``iso`` is written, as a form that checks dates would accept; when ``kind`` cannot
    give one (a day above 12 for ``day_month``), the date is written unchanged."""
    if kind not in _DATE_TYPOS:
        raise ValueError(f"unknown birth-date typo {kind!r}")
    digits = iso.replace("-", "")
    if kind == "day_month":
        options = [digits[:4] + digits[6:8] + digits[4:6]]
    elif kind == "swap":
        options = [digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:] for i in range(len(digits) - 1)]
    else:
        options = [digits[:i] + d + digits[i + 1:] for i in range(len(digits)) for d in "0123456789"]
    valid = [o for o in options if o != digits and _plausible(o)]
    if not valid:
        return iso
    new = valid[int(rng.integers(len(valid)))]
    return f"{new[:4]}-{new[4:6]}-{new[6:]}"


def _plausible(digits: str) -> bool:
    try:
        return 1940 <= dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).year <= 2010
    except ValueError:
        return False


class NodeRecords:
    """The person/vehicle/organization/link files of one country, and the identity truth."""

    def __init__(self, country: str, world: World, rng: np.random.Generator, people: PeopleTable,
                 vehicles: VehicleTable, oneoff: OneOffNames, writers: dict[str, TableWriter],
                 identities: TruthWriter, typo_rng: np.random.Generator | None = None) -> None:
        self.country = country
        self.world = world
        self.rng = rng
        # birth-date slips come from a stream of their own: drawing them changes no other record or value
        self.typo_rng = typo_rng
        self.pt, self.vt, self.names = people, vehicles, oneoff
        self.w = writers  # person, vehicle, organization, link
        self.identities = identities
        self.counter = {"person": 0, "vehicle": 0, "organization": 0}
        self.oneoff = 0
        self.company_ref: dict[str, str] = {}  # company id -> its first organization record ref
        # (company id, company record, owner id, owner's person record, name variant written): the chain truth
        self.owners: list[tuple[str, str, str, str, int]] = []
        self.last_entities = np.array([], dtype=object)  # true ids of the last people() call's records
        self.buf: dict[str, list[pd.DataFrame]] = {k: [] for k in self.w}
        self.sizes: dict[str, int] = {k: 0 for k in self.w}
        self.truth: list[pd.DataFrame] = []

    def _refs(self, kind: str, n: int) -> np.ndarray:
        start = self.counter[kind]
        self.counter[kind] += n
        prefix = {"person": "PER", "vehicle": "VEH", "organization": "ORG"}[kind]
        return np.array([f"{self.country}-{prefix}-{i:07d}" for i in range(start + 1, start + n + 1)], dtype=object)

    # -- people -------------------------------------------------------------------------------
    def people(self, person_ids: np.ndarray, event_kind: str = "", event_refs: np.ndarray | None = None,
               role: object = "", variant: np.ndarray | None = None, curp_rate: float = 0.7) -> np.ndarray:
        """One person record per element; '' in person_ids makes a one-off person. Links to events.
        ``variant`` forces the name variant of known people (index into their variants; -1: drawn as usual);
        ``curp_rate`` is the share of Mexican records that carry the CURP."""
        person_ids = np.asarray(person_ids, dtype=object)
        n = len(person_ids)
        if n == 0:
            return np.array([], dtype=object)
        rng, rate = self.rng, self.world.sc.rate
        refs = self._refs("person", n)
        known = person_ids != ""
        given = np.empty(n, dtype=object)
        s1 = np.empty(n, dtype=object)
        s2 = np.empty(n, dtype=object)
        alias = np.full(n, None, dtype=object)
        birth = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        nationality = np.empty(n, dtype=object)
        curp = np.full(n, None, dtype=object)
        entity = person_ids.copy()
        missing = rate("missing_optional")
        k = np.flatnonzero(known)
        if len(k):
            rows = self.pt.rows(person_ids[k])
            noisy = rng.random(len(k)) < rate("name_variant")
            v = np.where(noisy, 1 + (rng.random(len(k)) * (self.pt.nvar[rows] - 1)).astype(np.int64), 0)
            if variant is not None:
                forced = np.asarray(variant, dtype=np.int64)[k]
                v = np.where(forced >= 0, forced, v)
            given[k], s1[k], s2[k] = self.pt.given[rows, v], self.pt.s1[rows, v], self.pt.s2[rows, v]
            alias[k] = np.where(rng.random(len(k)) > missing, self.pt.alias[rows], None)
            birth[k] = np.where(rng.random(len(k)) > missing * 2, self.pt.birth[rows], np.datetime64("NaT"))
            birth[k] = self._mistype_births(birth[k])
            mex = self.pt.mexican[rows]
            if self.country == "MX":
                nationality[k] = np.where(mex, rng.choice(_MX_NAT, len(k)), "Estadounidense")
                curp[k] = np.where(rng.random(len(k)) < curp_rate, self.pt.curp[rows], None)
            else:
                nationality[k] = np.where(mex, rng.choice(_US_NAT_MX, len(k)), rng.choice(_US_NAT_US, len(k)))
        o = np.flatnonzero(~known)
        if len(o):
            self._oneoffs(o, given, s1, s2, birth, nationality, entity)
        frame = pd.DataFrame({"source_id": refs, "given_names": given, "surname1": s1, "surname2": s2,
                              "alias": alias, "birth_date": birth, "nationality": nationality})
        frame["curp" if self.country == "MX" else "id_number"] = curp
        self._buffer("person", frame, entity)
        self.last_entities = entity
        if event_refs is not None and event_kind:
            self.links(event_kind, np.asarray(event_refs, dtype=object), "person", refs, _obj(role, n))
        return refs

    def _mistype_births(self, birth: np.ndarray) -> np.ndarray:
        """A share (``birth_date_typo``) of the dates written with one slip (:func:`mistype_date`)."""
        rate = self.world.sc.rate("birth_date_typo")
        if self.typo_rng is None or rate <= 0 or not len(birth):
            return birth
        rng = self.typo_rng
        hit = np.flatnonzero((rng.random(len(birth)) < rate) & ~np.isnat(birth))
        if not len(hit):
            return birth
        kinds = self.world.sc.p["birth_date_typo_kinds"]
        names = list(kinds)
        p = np.array([float(kinds[n]) for n in names])
        chosen = rng.choice(len(names), len(hit), p=p / p.sum())
        out = birth.copy()
        for i, kind in zip(hit, chosen):
            out[i] = np.datetime64(mistype_date(str(birth[i]), names[int(kind)], rng))
        return out

    def _oneoffs(self, o: np.ndarray, given: np.ndarray, s1: np.ndarray, s2: np.ndarray, birth: np.ndarray,
                 nationality: np.ndarray, entity: np.ndarray) -> None:
        rng, names, m = self.rng, self.names, len(o)
        ids = np.arange(self.oneoff + 1, self.oneoff + m + 1)
        self.oneoff += m
        entity[o] = [f"P-{self.country}X{i:07d}" for i in ids]
        mexican = np.ones(m, dtype=bool) if self.country == "MX" else rng.random(m) < 0.5
        female = rng.random(m) < 0.2
        given[o] = np.where(mexican, np.where(female, rng.choice(names.mx_female, m), rng.choice(names.mx_male, m)),
                            rng.choice(names.us_given, m))
        s1[o] = np.where(mexican, rng.choice(names.mx_surnames, m), rng.choice(names.us_surnames, m))
        s2[o] = np.where(mexican, rng.choice(names.mx_surnames, m), "")
        birth[o] = np.datetime64("1965-01-01") + rng.integers(0, 365 * 38, m)
        nationality[o] = "México" if self.country == "MX" else rng.choice(_US_ONEOFF_NAT, m)

    # -- vehicles ------------------------------------------------------------------------------
    def vehicles(self, vehicle_ids: np.ndarray, event_kind: str, event_refs: np.ndarray) -> np.ndarray:
        vehicle_ids = np.asarray(vehicle_ids, dtype=object)
        n = len(vehicle_ids)
        if n == 0:
            return np.array([], dtype=object)
        rng, vt = self.rng, self.vt
        rows = vt.rows(vehicle_ids)
        refs = self._refs("vehicle", n)
        variant = rng.choice(len(PLATE_VARIANT_P), n, p=PLATE_VARIANT_P)
        r = rng.random(n)
        vin = np.where(r < 0.25, None, np.where(r > 0.95, vt.vin_misread[rows], vt.vin[rows]))
        frame = pd.DataFrame({
            "source_id": refs, "plate": vt.plates[rows, variant],
            "plate_state": np.where(rng.random(n) > 0.1, vt.state[rows], None),
            "plate_country": np.where(rng.random(n) > 0.2, vt.country[rows], None), "vin": vin,
            "make": np.where(rng.random(n) > 0.05, vt.make[rows], [m.title() for m in vt.make[rows]]),
            "model": vt.model[rows]})
        self._buffer("vehicle", frame, vehicle_ids)
        self.links(event_kind, np.asarray(event_refs, dtype=object), "vehicle", refs, _obj("vehicle", n))
        owned = np.flatnonzero((vt.owner[rows] != "") & (rng.random(n) < 0.3))
        if len(owned):
            owner_refs = self.people(vt.owner[rows][owned])
            self.links("vehicle", refs[owned], "person", owner_refs, _obj("owner", len(owned)))
        return refs

    # -- companies ------------------------------------------------------------------------------
    def companies(self, cids: np.ndarray) -> np.ndarray:
        """Each company's record reference in this country, written the first time it is needed;
        now and then a company is recorded again (a second reference, a spelling variant)."""
        cids = np.asarray(cids, dtype=object)
        refs = np.empty(len(cids), dtype=object)
        again = self.rng.random(len(cids)) < 0.02
        new_rows: list[dict[str, object]] = []
        for i, cid in enumerate(cids):
            if cid in self.company_ref and not again[i]:
                refs[i] = self.company_ref[cid]
                continue
            refs[i] = self._new_company(cid, new_rows)
        if new_rows:
            frame = pd.DataFrame(new_rows)
            self._buffer("organization", frame.drop(columns=["entity"]), frame["entity"].to_numpy())
        return refs

    def _new_company(self, cid: str, new_rows: list[dict[str, object]]) -> str:
        c = self.world.companies[cid]
        (ref,) = self._refs("organization", 1)
        first = cid not in self.company_ref
        name = c.variants[0] if first else c.variants[int(self.rng.integers(len(c.variants)))]
        self.company_ref.setdefault(cid, ref)
        org_type = {"front": "importadora" if self.country == "MX" else "importer", "importer": "importadora",
                    "exporter": "exportador" if self.country == "MX" else "exporter", "ffl": "FFL"}[c.kind]
        new_rows.append({"source_id": ref, "name": name, "tax_id": c.tax_id if c.kind != "ffl" else None,
                         "country": c.country, "org_type": org_type, "entity": cid})
        if c.owner and c.kind in ("front", "importer") and first:  # the registered owner / legal representative
            row = self.pt.rows(np.array([c.owner], dtype=object))[0]
            v = 0 if self.rng.random() >= self.world.sc.rate("name_variant") \
                else 1 + int(self.rng.random() * (self.pt.nvar[row] - 1))
            owner_refs = self.people(np.array([c.owner], dtype=object), variant=np.array([v]))
            self.links("organization", np.array([ref], dtype=object), "person", owner_refs,
                       np.array(["owner"], dtype=object))
            self.owners.append((cid, str(ref), c.owner, str(owner_refs[0]), v))
        return str(ref)

    # -- links --------------------------------------------------------------------------------
    def links(self, from_kind: str, from_refs: np.ndarray, to_kind: str, to_refs: np.ndarray,
              roles: np.ndarray) -> None:
        keep = (from_refs != "") & (to_refs != "")
        if not keep.any():
            return
        n = int(keep.sum())
        frame = pd.DataFrame({"from_kind": from_kind, "from_ref": from_refs[keep], "to_kind": to_kind,
                              "to_ref": to_refs[keep], "role": roles[keep]}, index=range(n))
        if self.country == "MX":  # Mexican files name kinds and roles in Spanish
            model = load_model()
            frame["from_kind"] = model.kinds[from_kind].label_es
            frame["to_kind"] = model.kinds[to_kind].label_es
            frame["role"] = frame["role"].map({k: v.es for k, v in model.vocabularies["roles"].terms.items()})
        self._buffer("link", frame, None)

    # -- buffering ------------------------------------------------------------------------------
    def _buffer(self, kind: str, frame: pd.DataFrame, entity: np.ndarray | None) -> None:
        self.buf[kind].append(frame)
        self.sizes[kind] += len(frame)
        if entity is not None:
            self.truth.append(pd.DataFrame({"file": self.w[kind].spec.path, "source_id": frame["source_id"].to_numpy(),
                                            "kind": kind, "entity_id": entity}))
        if self.sizes[kind] >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        entity_of = ({(f, s): e for f, s, e in pd.concat(self.truth, ignore_index=True)[["file", "source_id", "entity_id"]]
                      .itertuples(index=False)} if self.truth else {})
        for kind, frames in self.buf.items():
            if frames:
                writer = self.w[kind]
                writer.write(pd.concat(frames, ignore_index=True))
                self.buf[kind] = []
                self.sizes[kind] = 0
                # corrupted copies that ingest stores are records of their original's entity
                copies = [(copy, entity_of[(writer.spec.path, original)]) for original, copy in writer.stored_copies
                          if (writer.spec.path, original) in entity_of]
                writer.stored_copies = []
                if copies:
                    self.truth.append(pd.DataFrame({"file": writer.spec.path, "source_id": [c for c, _ in copies],
                                                    "kind": kind, "entity_id": [e for _, e in copies]}))
        if self.truth:
            self.identities.write(pd.concat(self.truth, ignore_index=True))
            self.truth = []


def serial_variant(serials: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Serial numbers as recorded: separators, case, a misread character or a typo."""
    out = np.asarray(serials, dtype=object).copy()
    r = rng.random(len(out))
    for i in np.flatnonzero(r >= 0.55):
        s = out[i]
        if r[i] < 0.75:
            out[i] = s.replace("-", "").replace(" ", "")
        elif r[i] < 0.85:
            out[i] = s.lower()
        elif r[i] < 0.95:
            out[i] = misread(s, rng)
        elif len(s) > 4:
            out[i] = typo(s, rng)
    return out


__all__ = ["NodeRecords", "serial_variant"]
