"""Write docs/fields.md from the model: ``python tools/gen_fields_doc.py`` (``--check`` exits 1
when the page is out of date, as tests/test_fields_reference.py does)."""

from __future__ import annotations

import sys
from pathlib import Path

from puente.model.reference import markdown

PAGE = Path(__file__).resolve().parents[1] / "docs" / "fields.md"


def main(argv: list[str]) -> int:
    text = markdown()
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is out of date: run python tools/gen_fields_doc.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
