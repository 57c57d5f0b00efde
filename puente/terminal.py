"""Text that is safe to print on a terminal.

Values from input files and file names can hold ANSI escape sequences, carriage returns,
backspaces or bidirectional overrides that would recolour, overwrite or reorder what the user
sees. :func:`safe` shows each such character as a visible escape (``\\x1b``, ``\\r``,
``\\u202e``) instead; everything else, accents and non-Latin scripts included, is unchanged.
"""

from __future__ import annotations

import re

# C0 controls except TAB, DEL, C1 controls, and the bidi embedding/override/isolate marks
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def safe(text: str) -> str:
    """``text`` with every terminal control character shown as an escape."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text
