"""Audit entries for reads of stored records outside the sharing path: file exports and analytics runs."""

from __future__ import annotations

from collections.abc import Iterable

from puente.audit import log
from puente.node import Node
from puente.store.base import Store


def _ids(store: Store, node: Node, table: str, partner_only: bool) -> tuple[list[str], list[str]]:
    """Ids in ``table`` (all, or only partner records) and the partner owners among them."""
    if "owner_node" not in store.table_columns(table):
        return [], []
    where = " WHERE owner_node <> ?" if partner_only else ""
    rows = store.query(f"SELECT id, owner_node FROM {table}{where} ORDER BY id", [node.name] if partner_only else [])
    return [r[0] for r in rows], sorted({r[1] for r in rows if r[1] != node.name})


def record_export(store: Store, node: Node, actor: str, table: str, fmt: str, target: str, count: int) -> None:
    """``puente export``: one entry naming every record written out, and which of them are partner records."""
    ids, owners = _ids(store, node, table, partner_only=False)
    partner = len(_ids(store, node, table, partner_only=True)[0]) if owners else 0
    log.append(store, node, actor, "export_file", ids, None,
               f"puente export {table} as {fmt} to {target}: {count} records, {partner} of them partner records"
               f" (owners: {', '.join(owners) or '-'})")


def record_analysis(store: Store, node: Node, actor: str, analyses: Iterable[tuple[str, str]], engine: str) -> None:
    """An analytics run: one entry per analysis that read partner records (name, table read)."""
    for name, table in analyses:
        ids, owners = _ids(store, node, table, partner_only=True)
        if ids:
            log.append(store, node, actor, "analyze", ids, None,
                       f"analysis {name} ({engine}) read {len(ids)} partner {table} records (owners: {', '.join(owners)})")
