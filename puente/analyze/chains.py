"""Chains: seizures that are one load, joined through what they share.

Two seizures are one chain when they carry the same pill stamp and batch, name the same
vehicle, driver or courier within ``window_days`` of each other, or one's notes cite the other's case
number (an agency continuing another's case, e.g. HSI's report of a controlled delivery citing the CBP
seizure it started from). The engine produces the edges
in linear time (each event is joined to the previous event with the same key, a ``lag`` over a
window, instead of a quadratic self-join), and scipy labels the connected components.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from puente.engine import Engine

ENTITY_KINDS = ("person", "organization", "vehicle")
CHAIN_ROLES = ("vehicle", "driver", "courier", "passenger", "arrested")
# A case number cited in free-text notes: agency letters, then digits and dashes (CBP-2021-0001234, HSI-00001234).
CASE_NUMBER = r"([A-Z]{2,6}-[0-9][0-9-]{4,}[0-9])"


def entity_links(engine: Engine, event_kind: str, roles: tuple[str, ...] | None = None) -> ir.Table:
    """(event, entity, entity_kind, role) for links between events of one kind and entities, either direction."""
    lk = engine.table("link")
    fwd = lk.filter((lk.from_kind == event_kind) & lk.to_kind.isin(ENTITY_KINDS)).select(
        event=lk.from_id, entity=lk.to_id, entity_kind=lk.to_kind, role=lk.role)
    back = lk.filter((lk.to_kind == event_kind) & lk.from_kind.isin(ENTITY_KINDS)).select(
        event=lk.to_id, entity=lk.from_id, entity_kind=lk.from_kind, role=lk.role)
    out = fwd.union(back)
    out = out.filter(out.event.notnull() & out.entity.notnull())
    return out.filter(out.role.isin(roles)) if roles else out


def _consecutive(t: ir.Table, key: list[ir.Value], max_days: int | None) -> ir.Table:
    w = ibis.window(group_by=key, order_by=[t.date, t.event])
    prev = t.mutate(a=t.event.lag().over(w), prev_date=t.date.lag().over(w))
    prev = prev.filter(prev.a.notnull())
    if max_days is not None:
        prev = prev.filter(prev.date.delta(prev.prev_date, unit="day") <= max_days)
    return prev.select(a=prev.a.cast("string"), b=prev.event.cast("string"))


def chain_edges(engine: Engine, window_days: int = 7) -> ir.Table:
    sz = engine.table("seizure")
    marked = sz.filter(sz.batch.notnull()).select(
        event=sz.id, date=sz.date.cast("date"), stamp=sz.pill_stamp.fill_null(""), batch=sz.batch)
    edges = _consecutive(marked, [marked.stamp, marked.batch], None)
    links = entity_links(engine, "seizure", CHAIN_ROLES)
    dated = links.join(sz.select(sid=sz.id, date=sz.date.cast("date")), links.event == sz.id)
    dated = dated.select(event=dated.event, entity=dated.entity, date=dated.date)
    return edges.union(_consecutive(dated, [dated.entity], window_days)).union(case_references(engine))


def case_references(engine: Engine) -> ir.Table:
    """(a, b): seizure b's notes cite the case number (``source_id``) of seizure a."""
    sz = engine.table("seizure")
    cited = sz.select(b=sz.id, ref=sz.notes.upper().re_extract(CASE_NUMBER, 1))
    cited = cited.filter(cited.ref.notnull() & (cited.ref != ""))
    target = sz.select(a=sz.id, source_id=sz.source_id)
    j = cited.join(target, cited.ref == target.source_id)
    j = j.filter(j.a != j.b)
    return j.select(a=j.a.cast("string"), b=j.b.cast("string"))


def chains(engine: Engine, window_days: int = 7) -> pd.DataFrame:
    """(id, chain) for every seizure in a chain of two or more. Chain ids are labels ("chain:N") that only
    group rows; nothing downstream depends on their spelling."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = engine.run(chain_edges(engine, window_days))
    if edges.empty:
        return pd.DataFrame({"id": pd.Series(dtype=str), "chain": pd.Series(dtype=str)})
    codes, ids = pd.factorize(pd.concat([edges["a"], edges["b"]], ignore_index=True))
    n = len(ids)
    half = len(edges)
    graph = coo_matrix((np.ones(half), (codes[:half], codes[half:])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return pd.DataFrame({"id": np.asarray(ids, dtype=object), "chain": np.char.add("chain:", labels.astype(str))})
