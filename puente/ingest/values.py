"""Clean one value of one (non-place) field: the type's cleaner, the vocabulary, the bounds.

Shared by the row cleaner and by profile loading (a profile's defaults are checked with it).
"""

from __future__ import annotations

from typing import Any

from puente.model import Field
from puente.model.types import CLEANERS, CleanContext, Invalid


def clean_value(f: Field, value: Any, ctx: CleanContext) -> Any:
    """The cleaned value of ``f``, or :class:`Invalid`. Place fields are resolved elsewhere
    (they are never invalid: an unresolved place keeps its text)."""
    if f.type == "place":
        return " ".join(str(value).split())
    if f.type == "enum":
        code = ctx.vocabularies[f.vocab or ""].lookup(str(value))
        if code is None:
            raise Invalid("unknown_term", value=str(value), vocab=f.vocab)
        return code
    if f.type == "list":
        codes = []
        for part in str(value).replace("|", ";").split(";"):
            if part.strip():
                code = ctx.vocabularies[f.vocab or ""].lookup(part)
                if code is None:
                    raise Invalid("unknown_term", value=part.strip(), vocab=f.vocab)
                codes.append(code)
        return ";".join(dict.fromkeys(codes)) or None
    if f.type == "text":
        text: str = CLEANERS["text"](value, ctx)
        return text.upper() if f.upper else text
    cleaned = CLEANERS[f.type](value, ctx)
    if f.minimum is not None and cleaned < f.minimum:
        raise Invalid("below_minimum", value=str(value), minimum=f.minimum)
    if f.maximum is not None and cleaned > f.maximum:
        raise Invalid("above_maximum", value=str(value), maximum=f.maximum)
    return cleaned
