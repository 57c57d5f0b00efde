"""The field reference of the model, one source for ``puente fields KIND`` and docs/fields.md.

Rows say, for each field of a kind: its name, its value type (with the vocabulary and bounds),
whether a row needs it (or whether ingest derives it), its label, and the other header
spellings ingest accepts for it (besides the name and both labels; case and accents ignored).
"""

from __future__ import annotations

from puente.i18n import t
from puente.model import Field, Kind, Model, load_model

GENERATED_NOTE = ("<!-- Generated from puente/model/schema.yaml by tools/gen_fields_doc.py; do not edit by hand "
                  "(tests/test_fields_reference.py fails when it is out of date). -->")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def type_text(f: Field) -> str:
    text = f.type + (f" ({f.vocab})" if f.vocab else "")
    bounds = [f"≥ {_number(f.minimum)}" if f.minimum is not None else "",
              f"≤ {_number(f.maximum)}" if f.maximum is not None else ""]
    return " ".join([text, *(b for b in bounds if b)])


def required_text(f: Field, lang: str, kind: Kind | None = None) -> str:
    if f.derived:
        derived = t("fields_derived", lang=lang)
        return f"{derived} ({', '.join(f.sources)})" if f.sources else derived
    if f.required:
        return t("fields_yes", lang=lang)
    return t("fields_one_of", lang=lang) if kind is not None and f.name in kind.require_any else "-"


def one_of_note(kind: Kind, lang: str) -> str | None:
    """The kind's "at least one of these" rule in words (a person needs some name or an identifier)."""
    return t("fields_one_of_note", lang=lang, fields=", ".join(kind.require_any)) if kind.require_any else None


def field_rows(kind: Kind, lang: str) -> list[tuple[str, str, str, str, str]]:
    """(field, type, required, label, aliases) for every field of ``kind``, in model order."""
    return [(f.name, type_text(f), required_text(f, lang, kind), f.label(lang), ", ".join(f.aliases) or "-")
            for f in kind.fields.values()]


def markdown(model: Model | None = None) -> str:
    """docs/fields.md: every kind's fields, English and Spanish labels side by side."""
    model = model or load_model()
    out = [GENERATED_NOTE, "", "# Field reference / Referencia de campos", "",
           "Every record kind of the Puente model and its fields. A file's column is matched to a field by the",
           "field's name, its English or Spanish label, or one of its aliases (case, accents, spaces and",
           "underscores ignored); a profile's `columns` can name any other header. **Required** fields must",
           "have a value; **derived** fields are computed during ingest and never read from a file.",
           "The same list is printed by `puente fields KIND` (`--lang es` for Spanish).", ""]
    out += [f"- [`{k.name}`](#{k.name}): {k.label_en} / {k.label_es}" for k in model.kinds.values()]
    for kind in model.kinds.values():
        out += ["", f"## {kind.name}", "", f"{kind.label_en} / {kind.label_es}", "",
                "| Field | Type | Required | Label (EN) | Label (ES) | Aliases |",
                "|---|---|---|---|---|---|"]
        for f in kind.fields.values():
            aliases = ", ".join(f"`{a}`" for a in f.aliases) or "-"
            out.append(f"| `{f.name}` | {type_text(f)} | {required_text(f, 'en', kind)} | {f.label_en} "
                       f"| {f.label_es} | {aliases} |")
        if note := one_of_note(kind, "en"):
            out += ["", note + "."]
    return "\n".join(out) + "\n"
