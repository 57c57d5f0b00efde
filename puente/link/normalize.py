"""Spanish-aware normalization of the fields entity resolution compares.

Everything here is plain Python run once per record before Splink sees the data, so the
comparisons themselves stay simple SQL that runs unchanged on DuckDB and Spark:

* names are folded (accents, case, punctuation), particles (de, de la, del, y) dropped;
* given names map to canonical forms through the nickname table (``data/nicknames.csv``:
  Chuy=Jesús, Pancho=Francisco, Lupe=Guadalupe, ...), a nickname may have several;
* a Spanish phonetic key absorbs transliteration and spelling variants
  (v/b, z/s/c, ll/y, x/j, silent h, qu/k, ñ/n, doubled letters);
* two surnames are kept apart (paternal, maternal) and also as an order-free key;
* CURP, RFC and EIN are parsed into their structural parts; plates and VINs are reduced
  to their characters, VINs with the check digit verified.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from puente.model.types import fold

PARTICLES = {"de", "del", "la", "las", "los", "y", "e", "da", "do", "dos", "van", "von", "san", "mc"}
# Titles and honorifics are noise in a name field.
_TITLES = {"sr", "sra", "srta", "don", "dona", "lic", "ing", "dr", "dra", "mr", "mrs", "ms"}


@lru_cache(maxsize=1)
def nicknames() -> dict[str, tuple[str, ...]]:
    """Nickname -> canonical given names, read from the shipped data file."""
    text = resources.files("puente.link").joinpath("data/nicknames.csv").read_text(encoding="utf-8")
    table: dict[str, tuple[str, ...]] = {}
    rows = (line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    for row in csv.DictReader(rows):
        key = fold(row["nickname"])
        names = tuple(fold(n) for n in row["canonical"].split("|") if n.strip())
        if key and names:
            table[key] = tuple(dict.fromkeys(table.get(key, ()) + names))
    return table


def is_missing(value: Any) -> bool:
    """None, NaN or NaT (what pandas gives for an empty cell)."""
    import math

    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "NaT"


def _words(value: Any) -> list[str]:
    if is_missing(value):
        return []
    return [w for w in fold(str(value)).replace("-", " ").replace("/", " ").split() if w not in _TITLES]


def name_key(value: Any) -> str | None:
    """Folded name without particles: 'De la Garza' -> 'garza'."""
    words = [w for w in _words(value) if w not in PARTICLES]
    return " ".join(words) or None


_PHONETIC_RULES = [
    (re.compile(r"ph"), "f"), (re.compile(r"ll"), "y"), (re.compile(r"ch"), "%"), (re.compile(r"sh"), "%"),
    (re.compile(r"qu([ei])"), r"k\1"), (re.compile(r"c([ei])"), r"s\1"), (re.compile(r"g([ei])"), r"j\1"),
    (re.compile(r"gu([ei])"), r"g\1"), (re.compile(r"c"), "k"), (re.compile(r"q"), "k"), (re.compile(r"z"), "s"),
    (re.compile(r"v"), "b"), (re.compile(r"w"), "u"), (re.compile(r"x(?=[aeiou])"), "j"), (re.compile(r"^x"), "j"),
    (re.compile(r"h"), ""), (re.compile(r"y$"), "i"), (re.compile(r"y(?=[^aeiou])"), "i"),
    (re.compile(r"(.)\1+"), r"\1"),
]


@lru_cache(maxsize=200_000)
def phonetic(word: str) -> str:
    """A Spanish phonetic key: 'Ximénez' and 'Jiménez', 'Valdez' and 'Baldés' agree."""
    out = fold(word).replace(" ", "")
    for pattern, repl in _PHONETIC_RULES:
        out = pattern.sub(repl, out)
    return out.replace("%", "ch")


def given_keys(value: Any) -> list[str]:
    """Phonetic keys of every given name and of its canonical forms (nicknames resolved)."""
    table = nicknames()
    words = [w for w in _words(value) if w not in PARTICLES]
    keys: list[str] = []
    for word in words:
        forms = (word,) + table.get(word, ())
        for form in forms:
            keys.extend(phonetic(part) for part in form.split() if part not in PARTICLES)
    return sorted({k for k in keys if k})


def first_given(value: Any) -> str | None:
    """Canonical first given name ('Pancho' -> 'francisco', 'Ma. Luisa' -> 'maria')."""
    words = [w for w in _words(value) if w not in PARTICLES]
    if not words:
        return None
    forms = nicknames().get(words[0])
    return phonetic(forms[0].split()[0] if forms else words[0])


def split_surnames(surname1: Any, surname2: Any) -> tuple[str | None, str | None]:
    """Two surnames, particles dropped. A single field holding both ('Pérez de la Garza')
    is split when the second field is empty."""
    s1, s2 = name_key(surname1), name_key(surname2)
    if s1 and not s2 and " " in s1:
        parts = s1.split()
        s1, s2 = parts[0], " ".join(parts[1:])
    return s1, s2


def surname_keys(s1: str | None, s2: str | None) -> list[str]:
    return sorted({phonetic(s) for s in (s1, s2) if s})


# -- identifiers -------------------------------------------------------------------------
_CURP = re.compile(r"^[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d$")
_RFC = re.compile(r"^([A-Z&Ñ]{3,4})(\d{6})([A-Z0-9]{3})$")
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))),
               **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def compact(value: Any) -> str | None:
    if is_missing(value):
        return None
    out = re.sub(r"[^0-9A-Z&Ñ]", "", fold(str(value)).upper())
    return out or None


def curp_birth_date(value: Any) -> str | None:
    """The birth date a valid CURP states (``YYMMDD`` after the four name letters; the 17th character is a
    digit for people born before 2000 and a letter after), as ``YYYY-MM-DD``; None when it states none."""
    code = compact(value)
    if not code or not _CURP.match(code):
        return None
    century = "19" if code[16].isdigit() else "20"
    stamp = f"{century}{code[4:6]}-{code[6:8]}-{code[8:10]}"
    try:
        return dt.date.fromisoformat(stamp).isoformat()
    except ValueError:
        return None


def curp_parts(value: Any) -> dict[str, str | None]:
    """CURP: 4 letters from the name, birth date (6), sex, state (2), consonants, homoclave.
    ``stem`` (name letters + birth date) survives a wrong homoclave or state."""
    code = compact(value)
    if not code or not _CURP.match(code):
        return {"curp": None, "curp_stem": None}
    return {"curp": code, "curp_stem": code[:10]}


def taxid_parts(value: Any) -> dict[str, str | None]:
    """RFC (Mexico: 3 letters for companies, 4 for people, date, homoclave) or EIN (U.S., 9 digits)."""
    code = compact(value)
    if not code:
        return {"taxid": None, "taxid_stem": None}
    match = _RFC.match(code)
    if match:
        return {"taxid": code, "taxid_stem": match[1] + match[2]}
    if code.isdigit() and len(code) == 9:
        return {"taxid": code, "taxid_stem": code[:2]}  # EIN prefix: the IRS campus / area
    return {"taxid": code, "taxid_stem": None}


def taxid_valid(value: Any) -> str | None:
    """The compacted tax id when it is well formed, else None: an RFC (3 or 4 letters, a date ``YYMMDD`` that
    exists, a 3-character homoclave) or an EIN (9 digits, not a ``00`` prefix, which the IRS never assigns).
    Only a well-formed tax id can tell two firms apart (``resolve.taxids_conflict``); a garbled one
    (``ABC-12``) says nothing."""
    code = compact(value)
    if not code:
        return None
    match = _RFC.match(code)
    if match:
        try:
            dt.date(2000, int(match[2][2:4]), int(match[2][4:6]))  # a leap year: 29 February exists
        except ValueError:
            return None
        return code
    return code if code.isdigit() and len(code) == 9 and not code.startswith("00") else None


def vin_valid(vin: str) -> bool:
    """ISO 3779 check digit (position 9); North American VINs carry it, others may not."""
    if len(vin) != 17 or any(c in vin for c in "IOQ"):
        return False
    total = sum(_VIN_VALUES.get(c, 0) * w for c, w in zip(vin, _VIN_WEIGHTS))
    check = total % 11
    return vin[8] == ("X" if check == 10 else str(check))


def plate_key(value: Any) -> str | None:
    """Plate characters only, with O->0 and I->1 (the usual misreadings)."""
    code = compact(value)
    return code.replace("O", "0").replace("I", "1") if code else None


_ORG_SUFFIXES = re.compile(
    r"\b(s ?a ?p ?i|s ?a ?b|s ?de ?r ?l|s ?a|s ?c|de ?c ?v|cv|llc|inc|incorporated|corp|corporation|co|ltd|"
    r"limited|company|sociedad anonima|sa de cv|gmbh|plc)\b"
)


def org_key(value: Any) -> str | None:
    """Company name without legal form ('S.A. de C.V.', 'LLC', 'Inc.') and particles."""
    if is_missing(value):
        return None
    text = fold(str(value)).replace(".", " ")
    text = _ORG_SUFFIXES.sub(" ", text)
    words = [w for w in text.split() if w not in PARTICLES and w not in {"y", "and", "the", "el"}]
    return " ".join(words) or None
