"""Module-level app for multi-worker Uvicorn (`puente serve --workers N`): reads PUENTE_HOME."""

from __future__ import annotations

from pathlib import Path

from puente.api.app import create_app
from puente.node import Node
from puente.settings import setting

app = create_app(Node.load(Path(setting("home"))))
