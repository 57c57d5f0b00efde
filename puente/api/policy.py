"""Who may see which records and which fields: every decision has a reason.

Object level: a human user always sees the node's own records; partner records (owned by
another node) only with a stated purpose, and every such read is logged with user and
purpose. A partner node sees only this node's own records of the kinds, and only the
fields, its agreement shares (no agreement: nothing).
Property level: internal provenance (file, row, batch, hash, extra columns) is for
stewards and admins; sensitive identifiers (CURP, tax ids, birth dates, ...) are shown to
analysts only with a stated purpose.
Column level, for every use: the view's columns are the only ones a request may display,
filter, search, sort or aggregate on. A filter, sort or grouping on a column outside the
view is refused (403, naming the column and the reason); ``q`` searches only the view's
text columns. A partner sees only the fields its agreement keeps (values it shares
transformed travel in bundles only), so it can neither search nor bisect the raw form.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from puente.api.auth import Principal
from puente.errors import PolicyError
from puente.model import Kind
from puente.store import retention

INTERNAL = ("source_file", "source_row", "batch_id", "content_hash", "extra")
PUBLIC_PROVENANCE = ("id", "owner_node", "source_agency", "ingested_at", "bundle_id", "retain_until")
# Sensitive fields (identifiers that single out a person or a firm, addresses, birth dates) are
# declared in the model: ``sensitive: true`` in schema.yaml, read as ``Kind.sensitive_fields``.
MIN_PURPOSE = 5
# Field types whose values ``q`` searches (as text); a place is searched by its written text and its name.
TEXT_TYPES = ("text", "name", "serial", "plate", "vin", "taxid", "curp")


@dataclass
class View:
    """What one principal may read of one kind: columns, row scope, and whether the read is logged."""

    kind: Kind
    columns: list[str]
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    purpose: str | None = None
    withheld: list[str] = field(default_factory=list)  # field names hidden, with the reason in `reason`
    reason: str = ""
    reasons: dict[str, str] = field(default_factory=dict)  # withheld field -> why (for refusals)

    @property
    def logged(self) -> bool:
        return self.purpose is not None

    def sees(self, *columns: str) -> bool:
        return all(c in self.columns for c in columns)

    def require(self, use: str, columns: Iterable[str]) -> None:
        """Refuse a filter, sort or grouping (``use``) that reads a column outside this view."""
        for col in columns:
            if col not in self.columns:
                fname = next((f.name for f in self.kind.fields.values() if col in f.columns()), col)
                reason = self.reasons.get(fname) or self.reason or "not in your view"
                raise PolicyError("api_column_withheld", use=use, field=fname, reason=reason)

    def searchable(self) -> list[str]:
        """The text columns ``q`` may search: only those this view shows."""
        cols = [f.name for f in self.kind.fields.values() if f.type in TEXT_TYPES]
        cols += [f"{f.name}_{s}" for f in self.kind.fields.values() if f.type == "place" for s in ("text", "name")]
        return [c for c in cols if c in self.columns]


def clean_purpose(purpose: str | None) -> str | None:
    if purpose is None or not purpose.strip():
        return None
    text = purpose.strip()
    if len(text) < MIN_PURPOSE:
        raise PolicyError("api_purpose_short", minimum=MIN_PURPOSE)
    return text


def field_columns(kind: Kind, names: list[str]) -> list[str]:
    cols: list[str] = []
    for name in names:
        cols.extend(kind.fields[name].columns() if name in kind.fields else [name])
    return cols


def view_for(principal: Principal, kind: Kind, node: Any, purpose: str | None, store: Any = None) -> View:
    purpose = clean_purpose(purpose)
    own = node.name
    if principal.is_partner:
        from puente.api.agreements import partner_grant

        grant = partner_grant(store, principal.partner or "", kind.name) if store is not None else None
        if grant is None or not grant.fields:
            raise PolicyError("api_not_shared", kind=kind.name, partner=principal.partner or "")
        names = ["id", "owner_node", "source_agency", *grant.fields]
        not_granted = [f for f in kind.fields if f not in grant.fields]
        return View(kind, field_columns(kind, names), ['"owner_node" = ?', *grant.where, retention.LIVE],
                    [own, *grant.params, retention.today()],
                    purpose=f"agreement {grant.clause}: pull by {principal.partner}", withheld=not_granted,
                    reason="agreement", reasons=grant.reasons)
    names = list(PUBLIC_PROVENANCE)
    withheld: list[str] = []
    reasons: dict[str, str] = {}
    if principal.role in ("steward", "admin"):
        names += list(INTERNAL)
    else:
        withheld += list(INTERNAL)
        reasons.update({c: "internal provenance: stewards and admins only" for c in INTERNAL})
    sensitive = kind.sensitive_fields
    for fname in kind.fields:
        if fname in sensitive and principal.role == "analyst" and purpose is None:
            withheld.append(fname)
            reasons[fname] = "a sensitive identifier: state a purpose (the read is logged)"
        else:
            names.append(fname)
    view = View(kind, field_columns(kind, names), purpose=purpose, withheld=withheld,
                reason="purpose required" if withheld else "", reasons=reasons)
    if purpose is None:
        view.where.append('"owner_node" = ?')
        view.params.append(own)
    view.where.append(retention.LIVE)  # partner records past retain_until are gone for every read
    view.params.append(retention.today())
    return view


def link_view(principal: Principal, node: Any, purpose: str | None, store: Any) -> View | None:
    """The caller's view of links, if it may follow them (it sees both ends' ids); else None."""
    from puente.model import load_model

    try:
        view = view_for(principal, load_model().kind("link"), node, purpose, store)
    except PolicyError:
        return None
    return view if view.sees("from_id", "to_id") else None


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise PolicyError("api_forbidden_role", role=principal.role, roles=", ".join(roles))
