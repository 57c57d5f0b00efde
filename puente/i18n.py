"""Bilingual messages. Every user-facing string lives in messages.yaml in English and Spanish.

The language is, in order: an explicit ``lang`` argument, the one set with
:func:`set_language` (the CLI's ``--lang``), ``PUENTE_LANG``, then the locale
(``LC_ALL``, ``LC_MESSAGES``, ``LANG`` starting with ``es``), else English.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("en", "es")
_current: str | None = None


def set_language(lang: str | None) -> None:
    global _current
    _current = lang if lang in LANGUAGES else None


def language() -> str:
    if _current:
        return _current
    env = os.environ.get("PUENTE_LANG")
    if env in LANGUAGES:
        return env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "es" if value.lower().startswith("es") else "en"
    return "en"


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """puente/messages.yaml plus each sub-package's own messages.yaml (share, audit, ...)."""
    root = resources.files("puente")
    data: dict[str, dict[str, str]] = yaml.safe_load(root.joinpath("messages.yaml").read_text(encoding="utf-8"))
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        messages = entry.joinpath("messages.yaml")
        if entry.is_dir() and messages.is_file():
            for key, value in (yaml.safe_load(messages.read_text(encoding="utf-8")) or {}).items():
                if key in data:
                    raise RuntimeError(f"message key {key!r} defined twice ({entry.name}/messages.yaml)")
                data[key] = value
    return data


def t(key: str, lang: str | None = None, **args: Any) -> str:
    """The message ``key`` in ``lang`` (or the current language), formatted with ``args``."""
    entry = catalogue().get(key)
    if entry is None:
        return key + (" " + ", ".join(f"{k}={v}" for k, v in args.items()) if args else "")
    template = entry.get(lang or language()) or entry["en"]
    try:
        return template.format(**args)
    except (KeyError, IndexError):
        return template
