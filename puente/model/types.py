"""Value types: each has one ``clean`` function (the followthemoney lesson).

A cleaner takes the raw cell (a string, or a native value from Excel/JSON) and a
:class:`CleanContext`, and returns the normalized value or raises :class:`Invalid`
with a message key (translated in :mod:`puente.i18n`) and its arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from puente.model.vocab import Vocabulary


class Invalid(ValueError):
    """A value that cannot be cleaned; ``key`` is an i18n message key."""

    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key = key
        self.args_ = args


@dataclass
class CleanContext:
    """Per-source settings that change how raw text is read."""

    date_order: str = "auto"  # "dmy" (Mexican sources), "mdy" (U.S.), "auto"
    decimal: str = "auto"  # "comma", "point", "auto"
    country: str | None = None  # default country (ISO2) of the source
    date_format: str | None = None  # an explicit strptime format (e.g. "%Y%m%d"); then only it is used
    vocabularies: dict[str, Vocabulary] = field(default_factory=dict)


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse punctuation/whitespace: a matching key."""
    return _fold(text)


@lru_cache(maxsize=200_000)
def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = re.sub(r"[^0-9a-zA-Z*+#/-]+", " ", stripped.lower())
    return " ".join(stripped.split())


def _text(raw: Any) -> str:
    return " ".join(str(raw).split())


def clean_text(raw: Any, ctx: CleanContext, upper: bool = False) -> str:
    value = _text(raw)
    return value.upper() if upper else value


_PARTICLES = {"de", "del", "la", "las", "los", "y", "van", "von", "da", "di"}


def clean_name(raw: Any, ctx: CleanContext) -> str:
    """Collapse whitespace; fix ALL-CAPS or all-lower names to title case, keeping
    Spanish particles (de, del, de la) lower-case and accents as written."""
    value = _text(raw)
    if value.isupper() or value.islower():
        words = []
        for i, word in enumerate(value.lower().split(" ")):
            words.append(word if (i > 0 and word in _PARTICLES) else word.capitalize())
        value = " ".join(words)
    return value


_MONTHS = {
    "jan": 1, "ene": 1, "enero": 1, "january": 1,
    "feb": 2, "febrero": 2, "february": 2,
    "mar": 3, "marzo": 3, "march": 3,
    "apr": 4, "abr": 4, "abril": 4, "april": 4,
    "may": 5, "mayo": 5,
    "jun": 6, "junio": 6, "june": 6,
    "jul": 7, "julio": 7, "july": 7,
    "aug": 8, "ago": 8, "agosto": 8, "august": 8,
    "sep": 9, "sept": 9, "set": 9, "septiembre": 9, "setiembre": 9, "september": 9,
    "oct": 10, "octubre": 10, "october": 10,
    "nov": 11, "noviembre": 11, "november": 11,
    "dec": 12, "dic": 12, "diciembre": 12, "december": 12,
}


def clean_month(raw: Any, ctx: CleanContext) -> int:
    if isinstance(raw, int) and 1 <= raw <= 12:
        return raw
    key = fold(str(raw)).replace(".", "")
    if key.isdigit() and 1 <= int(key) <= 12:
        return int(key)
    if key in _MONTHS:
        return _MONTHS[key]
    raise Invalid("bad_month", value=str(raw))


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")  # YYYYMMDD (FEBRL, many agency extracts)
_NUMERIC = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$")
_WORDY = re.compile(r"^(\d{1,2})(?: de)? ([a-z]+)\.?(?: de)?[ /-]?(\d{4})$")
_WORDY2 = re.compile(r"^(\d{1,2})-([a-z]+)-(\d{2}|\d{4})$")
_WORDY_US = re.compile(r"^([a-z]+)\.? (\d{1,2}),? (\d{4})$")


def _make_date(y: int, m: int, d: int, raw: Any) -> dt.date:
    if y < 100:
        y += 2000 if y < 70 else 1900
    try:
        value = dt.date(y, m, d)
    except ValueError:
        raise Invalid("bad_date", value=str(raw)) from None
    if not 1900 <= value.year <= 2100:
        raise Invalid("bad_date", value=str(raw))
    return value


def clean_date(raw: Any, ctx: CleanContext) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = str(raw).strip()
    if ctx.date_format:
        try:
            parsed = dt.datetime.strptime(text, ctx.date_format)
        except ValueError:
            raise Invalid("bad_date_format", value=text, format=ctx.date_format) from None
        return _make_date(parsed.year, parsed.month, parsed.day, raw)
    match = _ISO.match(text) or _COMPACT.match(text)
    if match:
        return _make_date(int(match[1]), int(match[2]), int(match[3]), raw)
    match = _NUMERIC.match(text)
    if match:
        a, b, y = int(match[1]), int(match[2]), int(match[3])
        order = ctx.date_order
        if order == "auto":
            order = "mdy" if b > 12 else "dmy"
        day, month = (a, b) if order == "dmy" else (b, a)
        return _make_date(y, month, day, raw)
    folded = fold(text).replace(",", "")
    for pattern in (_WORDY, _WORDY2):
        match = pattern.match(folded)
        if match and match[2] in _MONTHS:
            return _make_date(int(match[3]), _MONTHS[match[2]], int(match[1]), raw)
    match = _WORDY_US.match(folded)
    if match and match[1] in _MONTHS:
        return _make_date(int(match[3]), _MONTHS[match[1]], int(match[2]), raw)
    raise Invalid("bad_date", value=text)


def parse_number(raw: Any, ctx: CleanContext) -> float:
    if isinstance(raw, bool):
        raise Invalid("bad_number", value=str(raw))
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = str(raw).strip().replace(" ", "").replace("\u00a0", "")
        if ctx.decimal == "comma" or (ctx.decimal == "auto" and _looks_comma_decimal(text)):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
        try:
            value = float(text)
        except ValueError:
            raise Invalid("bad_number", value=str(raw)) from None
    if not math.isfinite(value):
        raise Invalid("bad_number", value=str(raw))
    return value


def _looks_comma_decimal(text: str) -> bool:
    if "," not in text:
        return False
    if "." in text:
        return text.rfind(",") > text.rfind(".")
    head, _, tail = text.rpartition(",")
    # "12,5" is a decimal comma; "1,234" stays a thousands separator unless the
    # source is declared decimal-comma in its profile.
    return head.count(",") == 0 and len(tail) != 3


def clean_integer(raw: Any, ctx: CleanContext) -> int:
    value = parse_number(raw, ctx)
    if value != int(value):
        raise Invalid("bad_integer", value=str(raw))
    return int(value)


_COUNTRIES = {
    "mx": "MX", "mex": "MX", "mexico": "MX", "estados unidos mexicanos": "MX", "mexicana": "MX", "mexicano": "MX",
    "us": "US", "usa": "US", "eua": "US", "eeuu": "US", "ee uu": "US", "united states": "US",
    "united states of america": "US", "estados unidos": "US", "estadounidense": "US", "american": "US",
    "cn": "CN", "china": "CN", "prc": "CN", "in": "IN", "india": "IN", "de": "DE", "germany": "DE",
    "alemania": "DE", "ca": "CA", "canada": "CA", "gt": "GT", "guatemala": "GT", "co": "CO",
    "colombia": "CO", "hk": "HK", "hong kong": "HK", "nl": "NL", "netherlands": "NL",
    "paises bajos": "NL", "kr": "KR", "korea": "KR", "corea": "KR", "jp": "JP", "japan": "JP",
    "japon": "JP", "sv": "SV", "el salvador": "SV", "hn": "HN", "honduras": "HN",
}


def clean_country(raw: Any, ctx: CleanContext) -> str:
    key = fold(str(raw)).replace(".", "")
    if key in _COUNTRIES:
        return _COUNTRIES[key]
    if len(key) == 2 and key.isalpha():
        return key.upper()
    raise Invalid("bad_country", value=str(raw))


_STRIP_ID = re.compile(r"[^0-9A-Z]")


def clean_serial(raw: Any, ctx: CleanContext) -> str:
    value = _STRIP_ID.sub("", fold(str(raw)).upper())
    if not value:
        raise Invalid("bad_serial", value=str(raw))
    return value


clean_plate = clean_serial


def clean_vin(raw: Any, ctx: CleanContext) -> str:
    value = _STRIP_ID.sub("", str(raw).upper())
    if len(value) != 17 or any(c in value for c in "IOQ"):
        raise Invalid("bad_vin", value=str(raw))
    return value


_CURP = re.compile(r"^[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d$")
_RFC = re.compile(r"^[A-Z&Ñ]{3,4}\d{6}[A-Z0-9]{3}$")
_EIN = re.compile(r"^\d{9}$")


def clean_curp(raw: Any, ctx: CleanContext) -> str:
    value = _STRIP_ID.sub("", str(raw).upper())
    if not _CURP.match(value):
        raise Invalid("bad_curp", value=str(raw))
    return value


def clean_taxid(raw: Any, ctx: CleanContext) -> str:
    value = re.sub(r"[^0-9A-Z&Ñ]", "", str(raw).upper())
    if _RFC.match(value):
        return value
    if _EIN.match(value):
        return f"{value[:2]}-{value[2:]}"
    raise Invalid("bad_taxid", value=str(raw))


# -- periods of published statistics (issue 12) ------------------------------------------------
# A period is stored as canonical text, one spelling per grain:
#   day 2023-10-05 · month 2023-10 · quarter 2023-Q4 · year 2023 · fiscal year FY2023
# FY is the U.S. federal fiscal year (1 October of the year before to 30 September): CBP, USBP and
# ATF publish by it. A Mexican "ejercicio fiscal" is the calendar year: write it as a year.
_P_FISCAL = re.compile(r"^(?:fy|af|ejercicio(?: fiscal)?|ano fiscal)\s*-?\s*(\d{4}|\d{2})(?: fytd| ytd)?$")
_P_FYTD = re.compile(r"^(\d{4}) (?:fytd|fy)$")  # CBP writes the running year as "2023 (FYTD)"
_P_YEAR = re.compile(r"^(?:cy\s*)?(\d{4})$")
_P_QUARTER = (re.compile(r"^(\d{4})\s*-?\s*[qt]([1-4])$"), re.compile(r"^[qt]([1-4])\s*-?\s*(\d{4})$"))
_P_MONTH_NUM = (re.compile(r"^(\d{4})[-/](\d{1,2})$"), re.compile(r"^(\d{1,2})[-/](\d{4})$"))
_P_MONTH_NAME = (re.compile(r"^([a-z]+)(?: de)?\s*-?\s*(\d{4}|\d{2})$"), re.compile(r"^(\d{4})\s*-?\s*([a-z]+)$"))
_P_CANONICAL = re.compile(r"^(?:FY(\d{4})|(\d{4})|(\d{4})-Q([1-4])|(\d{4})-(\d{2})|(\d{4})-(\d{2})-(\d{2}))$")


def _year4(text: str) -> int:
    year = int(text)
    return year + (2000 if year < 70 else 1900) if year < 100 else year


def _period_year(year: int, raw: Any) -> int:
    if not 1900 <= year <= 2100:
        raise Invalid("bad_stat_period", value=str(raw))
    return year


def clean_period(raw: Any, ctx: CleanContext) -> str:
    """A period as canonical text: ``FY2023``, ``2023``, ``2023-Q4``, ``2023-10`` or ``2023-10-05``."""
    if isinstance(raw, dt.datetime | dt.date):
        return clean_date(raw, ctx).isoformat()
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(_period_year(raw, raw))
    if isinstance(raw, float) and raw.is_integer():
        return str(_period_year(int(raw), raw))
    text = str(raw).strip()
    if _P_CANONICAL.match(text):
        _period_year(period_bounds(text)[2].year, raw)  # 2023-13, 2023-02-30 or FY1776 are not periods
        return text
    key = fold(text)
    for pattern in (_P_FISCAL, _P_FYTD):
        if match := pattern.match(key):
            return f"FY{_period_year(_year4(match[1]), raw)}"
    if match := _P_YEAR.match(key):
        return str(_period_year(int(match[1]), raw))
    for i, pattern in enumerate(_P_QUARTER):
        if match := pattern.match(key):
            year, quarter = (match[1], match[2]) if i == 0 else (match[2], match[1])
            return f"{_period_year(int(year), raw)}-Q{quarter}"
    for i, pattern in enumerate(_P_MONTH_NUM):
        if match := pattern.match(key):
            year, month = (int(match[1]), int(match[2])) if i == 0 else (int(match[2]), int(match[1]))
            if 1 <= month <= 12:
                return f"{_period_year(year, raw)}-{month:02d}"
    for i, pattern in enumerate(_P_MONTH_NAME):
        if match := pattern.match(key.replace(".", "")):
            name, year_text = (match[1], match[2]) if i == 0 else (match[2], match[1])
            if name in _MONTHS:
                return f"{_period_year(_year4(year_text), raw)}-{_MONTHS[name]:02d}"
    try:
        return clean_date(text, ctx).isoformat()
    except Invalid:
        raise Invalid("bad_stat_period", value=text) from None


def period_bounds(period: str) -> tuple[str, dt.date, dt.date]:
    """(grain, first day, last day) of a canonical period (see :func:`clean_period`)."""
    match = _P_CANONICAL.match(period)
    if match is None:
        raise Invalid("bad_stat_period", value=period)
    try:
        return _bounds(match.groups())
    except ValueError:
        raise Invalid("bad_stat_period", value=period) from None


def _bounds(groups: tuple[str | Any, ...]) -> tuple[str, dt.date, dt.date]:
    fy, year, qy, quarter, my, month, dy, dm, dd = groups
    if fy:
        return "fiscal_year", dt.date(int(fy) - 1, 10, 1), dt.date(int(fy), 9, 30)
    if year:
        return "year", dt.date(int(year), 1, 1), dt.date(int(year), 12, 31)
    if quarter:
        first = dt.date(int(qy), 3 * int(quarter) - 2, 1)
        return "quarter", first, _month_end(int(qy), 3 * int(quarter))
    if month:
        return "month", dt.date(int(my), int(month), 1), _month_end(int(my), int(month))
    day = dt.date(int(dy), int(dm), int(dd))
    return "day", day, day


def _month_end(year: int, month: int) -> dt.date:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def clean_year(raw: Any, ctx: CleanContext) -> int:
    """A year: ``2023``, ``FY2023``, ``FY23``, ``2023 (FYTD)`` (what a fiscal-year column holds)."""
    try:
        period = clean_period(raw, ctx)
    except Invalid:
        raise Invalid("bad_year", value=str(raw)) from None
    if period.startswith("FY"):
        return int(period[2:])
    if period.isdigit():
        return int(period)
    raise Invalid("bad_year", value=str(raw))


def clean_map(raw: Any, ctx: CleanContext) -> str | None:
    """Free dimensions as canonical JSON (keys sorted, empty values dropped): a mapping, a JSON
    object, or ``key=value`` pairs separated by ``;``. None when nothing is left."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("{"):
            try:
                raw = json.loads(text)
            except ValueError:
                raise Invalid("bad_map", value=text) from None
        else:
            pairs: dict[str, Any] = {}
            for part in text.split(";"):
                if not part.strip():
                    continue
                key, sep, value = part.partition("=")
                if not sep or not key.strip():
                    raise Invalid("bad_map", value=text)
                pairs[key] = value
            raw = pairs
    if not isinstance(raw, dict):
        raise Invalid("bad_map", value=str(raw))
    return canonical_map(raw)


def canonical_map(values: dict[Any, Any]) -> str | None:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None or isinstance(value, dict | list):
            if value in (None, {}, []):
                continue
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        text = _text(value)
        if text:
            out[_text(key)] = text
    return json.dumps(dict(sorted(out.items())), ensure_ascii=False, separators=(",", ":")) if out else None


Cleaner = Callable[[Any, CleanContext], Any]

CLEANERS: dict[str, Cleaner] = {
    "text": clean_text,
    "name": clean_name,
    "date": clean_date,
    "month": clean_month,
    "number": parse_number,
    "integer": clean_integer,
    "country": clean_country,
    "serial": clean_serial,
    "plate": clean_plate,
    "vin": clean_vin,
    "curp": clean_curp,
    "taxid": clean_taxid,
    "period": clean_period,
    "year": clean_year,
    "map": clean_map,
}

@dataclass(frozen=True)
class ColumnType:
    """One store column type, named as the model writes it (``Kind.columns()``), and what it is elsewhere."""

    sql: str  # the model's name (PostgreSQL's spelling)
    duckdb: str  # DuckDB DDL
    postgres: str  # PostgreSQL DDL
    arrow: str  # pyarrow type alias (``pa.type_for_alias``)
    python: type  # the API's pydantic field type


@dataclass(frozen=True)
class FieldType:
    """A value type of schema.yaml: the column it is stored in and its FollowTheMoney type."""

    sql: str | None  # key of COLUMN_TYPES; None for place (it expands into PLACE_COLUMNS)
    ftm: str  # FtM property type the value fits (followthemoney.types)


# The one type table: every place a type is mapped (store DDL, Arrow schemas, API models, FtM) reads it.
COLUMN_TYPES: dict[str, ColumnType] = {
    "TEXT": ColumnType("TEXT", "TEXT", "TEXT", "string", str),
    "DATE": ColumnType("DATE", "DATE", "DATE", "date32", dt.date),
    "DOUBLE PRECISION": ColumnType("DOUBLE PRECISION", "DOUBLE", "DOUBLE PRECISION", "float64", float),
    "BIGINT": ColumnType("BIGINT", "BIGINT", "BIGINT", "int64", int),
    "INTEGER": ColumnType("INTEGER", "INTEGER", "INTEGER", "int32", int),
    "TIMESTAMP": ColumnType("TIMESTAMP", "TIMESTAMP", "TIMESTAMP", "timestamp[us]", str),
}

FIELD_TYPES: dict[str, FieldType] = {
    "text": FieldType("TEXT", "string"),
    "name": FieldType("TEXT", "name"),
    "date": FieldType("DATE", "date"),
    "month": FieldType("INTEGER", "number"),
    "number": FieldType("DOUBLE PRECISION", "number"),
    "integer": FieldType("BIGINT", "number"),
    "country": FieldType("TEXT", "country"),
    "serial": FieldType("TEXT", "identifier"),
    "plate": FieldType("TEXT", "identifier"),
    "vin": FieldType("TEXT", "identifier"),
    "curp": FieldType("TEXT", "identifier"),
    "taxid": FieldType("TEXT", "identifier"),
    "enum": FieldType("TEXT", "string"),
    "list": FieldType("TEXT", "string"),
    "place": FieldType(None, "address"),
    "period": FieldType("TEXT", "string"),  # FY2023, 2023-10, 2023-Q4 ... (issue 12, statistic)
    "year": FieldType("BIGINT", "number"),
    "map": FieldType("TEXT", "json"),  # free dimensions as JSON with sorted keys
}

# SQL column type for each value type (place expands into several columns: puente.model.PLACE_COLUMNS).
SQL_TYPES: dict[str, str] = {name: t.sql for name, t in FIELD_TYPES.items() if t.sql}


def arrow_type(sql: str) -> Any:
    """The pyarrow type of a model column type (pyarrow imported only when asked)."""
    import pyarrow as pa

    return pa.type_for_alias(COLUMN_TYPES[sql].arrow)


def ddl_type(sql: str, dialect: str) -> str:
    """A model column type as one SQL dialect's DDL spells it."""
    spelled: str = getattr(COLUMN_TYPES[sql], dialect)  # ColumnType has one attribute per store dialect
    return spelled
