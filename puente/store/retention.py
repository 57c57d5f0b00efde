"""Partner records past their retention date are not read, even before ``puente share purge-expired`` deletes them.

A record received from a partner carries ``retain_until`` (the agreement's retention period from the day it
arrived); own records have none. Every read of records (API views, the node summary, the joint scorecard, CLI
exports, analytics through :mod:`puente.engine`) adds :data:`LIVE` with :func:`today` as its parameter, the same
day ``purge_expired`` compares with, so what a read shows is exactly what the purge would keep.
"""

from __future__ import annotations

import datetime as dt

LIVE = '("retain_until" IS NULL OR "retain_until" >= ?)'


def today() -> dt.date:
    """The retention day (UTC), as ``share purge-expired`` counts it."""
    return dt.datetime.now(dt.UTC).date()
