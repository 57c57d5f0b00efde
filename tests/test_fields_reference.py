"""`puente fields KIND` in English and Spanish, and docs/fields.md kept in step with the model."""

from __future__ import annotations

import sys
from pathlib import Path

from _puente_cli import REPO, invoke

from puente.model import load_model
from puente.model.reference import markdown


def test_docs_fields_md_is_generated_from_the_current_model() -> None:
    page = (REPO / "docs" / "fields.md").read_text(encoding="utf-8")
    assert page == markdown(), "docs/fields.md is out of date: run python tools/gen_fields_doc.py"
    for kind in load_model().kinds.values():  # every kind and field is documented
        assert f"## {kind.name}\n" in page
        for name in kind.fields:
            assert f"| `{name}` |" in page


def test_generator_check_mode(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import gen_fields_doc
    finally:
        sys.path.remove(str(REPO / "tools"))
    assert gen_fields_doc.main(["--check"]) == 0
    stale = tmp_path / "fields.md"
    stale.write_text("old\n", encoding="utf-8")
    monkeypatch.setattr(gen_fields_doc, "PAGE", stale)
    assert gen_fields_doc.main(["--check"]) == 1
    assert gen_fields_doc.main([]) == 0 and stale.read_text(encoding="utf-8") == markdown()


def _row(out: str, field: str) -> str:
    return next(line for line in out.splitlines() if line.strip("│ ").startswith(field + " "))


def test_fields_lists_types_required_and_aliases(tmp_path: Path) -> None:
    code, out, err = invoke(tmp_path / "none", "fields", "seizure")
    assert code == 0, err
    assert "seizure: Seizure event" in out
    quantity = _row(out, "quantity")
    for cell in ("number ≥ 0", "yes", "Quantity", "qty, amount, peso, cantidad_asegurada"):
        assert cell in quantity
    assert "enum (drugs)" in _row(out, "drug")
    assert "derived" in _row(out, "quantity_kg")
    assert " - " in _row(out, "notes")  # optional
    assert "number ≥ 0 ≤ 100" in _row(out, "purity")


def test_fields_in_spanish(tmp_path: Path) -> None:
    code, out, _ = invoke(tmp_path / "none", "--lang", "es", "fields", "person")
    assert code == 0
    assert "person: Persona" in out and "obligatorio" in out
    given = _row(out, "given_names")
    assert "uno de*" in given and "Nombre(s)" in given and "first_name" in given
    assert "una fila necesita al menos uno de: given_names, surname1" in out  # some name or an identifier
    assert "sí" in _row(invoke(tmp_path / "none", "--lang", "es", "fields", "seizure")[1], "quantity")
    _, locale_out, _ = invoke(tmp_path / "none", "fields", "seizure", lang="es_MX.UTF-8")
    assert "Cantidad" in _row(locale_out, "quantity") and "derivado" in _row(locale_out, "quantity_kg")


def test_fields_without_kind_lists_kinds_and_unknown_kind_is_one_line(tmp_path: Path) -> None:
    code, out, _ = invoke(tmp_path / "none", "fields")
    assert code == 0
    for kind in load_model().kinds:
        assert kind in out
    assert "puente fields KIND" in out
    code, out, err = invoke(tmp_path / "none", "fields", "bogus")
    assert code == 2 and err.strip().startswith("puente: unknown record kind 'bogus'") and len(err.splitlines()) == 1
