"""The actors as numpy arrays, so records about them can be drawn for whole chunks at once."""

from __future__ import annotations

import numpy as np

from puente.simulate.world import World, strip_accents, typo

_MISREAD = str.maketrans({"O": "0", "0": "O", "I": "1", "1": "I", "S": "5", "5": "S", "B": "8", "8": "B"})
PLATE_VARIANT_P = np.array([0.4, 0.3, 0.15, 0.1, 0.05])


def misread(text: str, rng: np.random.Generator) -> str:
    """One character misread (O/0, I/1, S/5, B/8), or a slip of the keyboard when none can be."""
    spots = [i for i, c in enumerate(text) if c in "OI1S5B80"]
    if spots:
        i = spots[int(rng.integers(len(spots)))]
        return text[:i] + text[i].translate(_MISREAD) + text[i + 1:]
    return typo(text, rng)


class PeopleTable:
    def __init__(self, world: World) -> None:
        people = list(world.people.values())
        self.index = {p.id: i for i, p in enumerate(people)}
        self.ids = np.array([p.id for p in people], dtype=object)
        width = max(len(p.variants) for p in people)
        self.nvar = np.array([len(p.variants) for p in people])
        self.given = np.full((len(people), width), "", dtype=object)
        self.s1 = np.full((len(people), width), "", dtype=object)
        self.s2 = np.full((len(people), width), "", dtype=object)
        for i, p in enumerate(people):
            for j, v in enumerate(p.variants):
                self.given[i, j], self.s1[i, j], self.s2[i, j] = v["given_names"], v["surname1"], v["surname2"]
        self.alias = np.array([p.alias or None for p in people], dtype=object)
        self.birth = np.array([p.birth for p in people], dtype="datetime64[D]")
        self.mexican = np.array([p.nationality == "MX" for p in people])
        self.curp = np.array([p.curp or None for p in people], dtype=object)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        return np.array([self.index[x] for x in ids], dtype=np.int64)

    def name_key(self, row: int, v: int) -> str:
        """A variant's full name as a plain join would compare it (no accents, lower case, one string)."""
        return " ".join(strip_accents(x).lower() for x in (self.given[row, v], self.s1[row, v], self.s2[row, v]) if x)

    def other_variant(self, row: int, written: list[int], rng: np.random.Generator) -> int:
        """A variant of the same person whose full name differs from each of the ``written`` variants even after
        dropping accents and case (swapped or missing surname, nickname, dropped given name, typo): only
        resolution joins the records."""
        keys = {self.name_key(row, v) for v in written}
        options = [j for j in range(int(self.nvar[row])) if self.name_key(row, j) not in keys]
        return int(options[int(rng.integers(len(options)))]) if options else 0


class VehicleTable:
    def __init__(self, world: World, rng: np.random.Generator) -> None:
        vehicles = list(world.vehicles.values())
        self.index = {v.id: i for i, v in enumerate(vehicles)}
        self.plates = np.empty((len(vehicles), 5), dtype=object)
        for i, v in enumerate(vehicles):
            compact = v.plate.replace("-", "")
            self.plates[i] = [v.plate, compact, f"{compact[:3]} {compact[3:]}", v.plate.lower(), misread(compact, rng)]
        self.vin = np.array([v.vin for v in vehicles], dtype=object)
        self.vin_misread = np.array([_vin_misread(v.vin, rng) for v in vehicles], dtype=object)
        self.state = np.array([v.plate_state for v in vehicles], dtype=object)
        self.country = np.array([v.plate_country for v in vehicles], dtype=object)
        self.make = np.array([v.make for v in vehicles], dtype=object)
        self.model = np.array([v.model for v in vehicles], dtype=object)
        self.owner = np.array([v.owner for v in vehicles], dtype=object)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        return np.array([self.index[x] for x in ids], dtype=np.int64)


def _vin_misread(vin: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(3, 17))
    options = [c for c in "ABCDEFGHJKLMNPRSTUVWXYZ0123456789" if c != vin[i]]
    return vin[:i] + options[int(rng.integers(len(options)))] + vin[i + 1:]


class OneOffNames:
    """Name pools for people who appear once (bystanders, lone couriers, legitimate buyers)."""

    def __init__(self, world: World) -> None:
        names = world.sc.names
        self.mx_male = np.array(names["mx_given_male"], dtype=object)
        self.mx_female = np.array(names["mx_given_female"], dtype=object)
        self.mx_surnames = np.array(names["mx_surnames"], dtype=object)
        self.mx_surnames_plain = np.array([strip_accents(s) for s in names["mx_surnames"]], dtype=object)
        self.us_given = np.array(names["us_given"], dtype=object)
        self.us_surnames = np.array(names["us_surnames"], dtype=object)
