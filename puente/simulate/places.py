"""Place names as agencies write them, checked against the gazetteer.

For each place the simulator knows the true gazetteer entry; the variants it writes ("Culiacán,
Sin.", "CULIACAN SINALOA", "Culiacan") are kept only when they resolve back to that same entry,
so noise in place names never changes where an event truly happened.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from puente.geo.gazetteer import Place
from puente.simulate.config import Scenario, groups
from puente.simulate.world import strip_accents

_MX_ABBR = {"Sinaloa": "Sin.", "Sonora": "Son.", "Jalisco": "Jal.", "Michoacán de Ocampo": "Mich.",
            "Baja California": "B.C.", "Chihuahua": "Chih.", "Tamaulipas": "Tamps.", "Nuevo León": "N.L.",
            "Coahuila de Zaragoza": "Coah.", "Nayarit": "Nay.", "Colima": "Col."}
_MX_SHORT = {"Michoacán de Ocampo": "Michoacán", "Coahuila de Zaragoza": "Coahuila"}


class PlaceTexts:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.variants = lru_cache(maxsize=4096)(self._variants)

    def _variants(self, text: str, country: str, prefer: str = "place") -> tuple[Place, tuple[str, ...]]:
        place = self.sc.place(text, country, prefer)
        name = text.split(",")[0].strip()
        state = place.admin1
        candidates = [text]
        if country == "MX":
            short = _MX_SHORT.get(state, state)
            candidates += [f"{name}, {short}", f"{name}, {_MX_ABBR.get(state, short)}", strip_accents(f"{name}, {short}"),
                           f"{name}, {short}".upper(), f"{name} {short}", name, strip_accents(name).upper()]
        else:
            candidates += [name, text.upper(), strip_accents(text)]
        keep = []
        for candidate in candidates:
            found = self.sc.gazetteer.resolve(candidate, country, prefer)
            if found is not None and found.id == place.id and candidate not in keep:
                keep.append(candidate)
        return place, tuple(keep)

    def by_population(self, texts: list[str], country: str) -> tuple[np.ndarray, np.ndarray]:
        """The texts and their probabilities in proportion to the gazetteer's population (INEGI, Census)."""
        pops = np.array([max(self.variants(t, country)[0].population, 1) for t in texts], dtype=float)
        return np.array(texts, dtype=object), pops / pops.sum()

    def pick(self, texts: np.ndarray, country: str, rng: np.random.Generator, prefer: str = "place",
             exact: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """Written variants and true gazetteer ids for an array of canonical place texts."""
        out = np.empty(len(texts), dtype=object)
        ids = np.empty(len(texts), dtype=object)
        for text, idx in groups(texts):
            place, variants = self.variants(str(text), country, prefer)
            ids[idx] = place.id
            choice = rng.integers(0, len(variants), size=len(idx))
            choice[rng.random(len(idx)) < exact] = 0
            out[idx] = np.array(variants, dtype=object)[choice]
        return out, ids
