"""Agreements: a versioned YAML document between two nodes, signed by both (detached Ed25519).

The signed bytes are the canonical JSON of the parsed document (sorted keys, compact, UTF-8), so
re-indenting the YAML does not break a signature. Signatures live next to the document in
``<file>.sig.json`` (``{node: base64 signature}``). Every policy decision returns the clause
(a path into the document, e.g. ``kinds.seizure.records[0]``) that decided it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from puente.audit.checkpoint import public_key_from_pem
from puente.errors import ConfigError, PolicyError
from puente.model import load_model
from puente.share.agreement_spec import FILTER_OPS, HANDLING, HITS_DEFAULTS, STRICTNESS, TRANSFORMS, normalise

# Rules under which a field's value does not travel in bundles.
WITHHELD = ("drop", "match_only")

__all__ = ["HANDLING", "HITS_DEFAULTS", "TRANSFORMS", "Agreement", "Decision", "FieldRule", "RecordFilter",
           "canonical", "key_id", "signature_path"]


@dataclass(frozen=True)
class Decision:
    """The outcome of a policy check and the clause that decided it."""

    action: str  # allow, deny, or a transform name
    clause: str
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.action not in ("deny", "drop", "match_only")


@dataclass(frozen=True)
class FieldRule:
    field: str
    transform: str
    options: dict[str, Any]
    clause: str


@dataclass(frozen=True)
class RecordFilter:
    column: str
    op: str
    value: Any
    clause: str

    def passes(self, value: Any) -> bool:
        if value is None:
            return False
        if self.op == "in":
            return value in self.value
        if self.op == "not_in":
            return value not in self.value
        if self.op == "from":
            return bool(value >= self.value)
        return bool(value <= self.value)  # until


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def key_id(pem: str) -> str:
    """A key's id: SHA-256 of its PEM text, first 16 hex digits."""
    return hashlib.sha256(pem.strip().encode()).hexdigest()[:16]


class Agreement:
    def __init__(self, doc: dict[str, Any], signatures: dict[str, str] | None = None, source: str = "") -> None:
        self.doc = normalise(doc, source)  # checked by the pydantic model in agreement_spec.py
        self.signatures = dict(signatures or {})

    # -- identity ------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.doc["agreement"])

    @property
    def version(self) -> int:
        return int(self.doc["version"])

    @property
    def parties(self) -> dict[str, str]:
        """node name -> public key PEM."""
        return {p["node"]: p["public_key"] for p in self.doc["parties"]}

    def partner_of(self, node_name: str) -> str:
        others = [n for n in self.parties if n != node_name]
        if node_name not in self.parties or len(others) != 1:
            raise PolicyError("not_a_party", node=node_name, agreement=self.id)
        return others[0]

    def key_of(self, node_name: str) -> Ed25519PublicKey:
        return public_key_from_pem(self.parties[node_name])

    @property
    def retention_days(self) -> int:
        return int(self.doc["retention_days"])

    @property
    def onward_transfer(self) -> bool:
        return bool(self.doc.get("onward_transfer", False))

    # -- signatures ----------------------------------------------------------------------
    def body(self) -> bytes:
        return canonical(self.doc)

    def sign(self, node_name: str, key: Ed25519PrivateKey) -> None:
        if node_name not in self.parties:
            raise PolicyError("not_a_party", node=node_name, agreement=self.id)
        from puente.audit.checkpoint import public_key_pem

        if key_id(public_key_pem(key.public_key())) != key_id(self.parties[node_name]):
            raise PolicyError("agreement_wrong_key", node=node_name, agreement=self.id)
        self.signatures[node_name] = base64.b64encode(key.sign(self.body())).decode()

    def signature_problems(self) -> list[str]:
        problems = []
        for node_name in self.parties:
            sig = self.signatures.get(node_name)
            if sig is None:
                problems.append(f"{node_name}: unsigned")
                continue
            try:
                self.key_of(node_name).verify(base64.b64decode(sig), self.body())
            except (InvalidSignature, ValueError):
                problems.append(f"{node_name}: bad signature")
        return problems

    @property
    def fully_signed(self) -> bool:
        return not self.signature_problems()

    def in_force(self, today: dt.date | None = None) -> Decision:
        today = today or dt.datetime.now(dt.UTC).date()
        if not self.fully_signed:
            return Decision("deny", "signatures", "; ".join(self.signature_problems()))
        if today < self.doc["valid_from"]:
            return Decision("deny", "valid_from", f"not in force before {self.doc['valid_from']}")
        if self.doc.get("valid_until") and today > self.doc["valid_until"]:
            return Decision("deny", "valid_until", f"expired on {self.doc['valid_until']}")
        return Decision("allow", "valid_from", "in force")

    # -- policy --------------------------------------------------------------------------
    @cached_property
    def _rules(self) -> dict[str, tuple[list[RecordFilter], dict[str, FieldRule]]]:
        out = {}
        for kind, spec in self.doc["kinds"].items():
            spec = spec or {}  # ``lab_site:`` with no rules: every record, every field dropped
            filters = [RecordFilter(f["field"], op, f[op], f"kinds.{kind}.records[{i}]")
                       for i, f in enumerate(spec.get("records") or []) for op in FILTER_OPS if op in f]
            rules = {}
            for name, rule in (spec.get("fields") or {}).items():
                rules[name] = _rule(name, rule, f"kinds.{kind}.fields.{name}")
            out[kind] = (filters, rules)
        return out

    def kinds(self) -> list[str]:
        return list(self.doc["kinds"])

    def filters(self, kind: str) -> list[RecordFilter]:
        return self._rules[kind][0] if kind in self._rules else []

    def field_rule(self, kind: str, field: str) -> FieldRule:
        """What the agreement does with a field: its own rule, else its data class's rule (``classes``), else
        drop — tightened where the model ties the field to others (:meth:`_tied`)."""
        model_kind = load_model().kinds.get(kind)
        model_field = model_kind.fields.get(field) if model_kind else None
        return self._tied(kind, field, self._listed_rule(kind, field, model_field), model_field)

    def _listed_rule(self, kind: str, field: str, model_field: Any) -> FieldRule:
        rules = self._rules.get(kind, ([], {}))[1]
        if field in rules:
            return rules[field]
        cls = model_field.data_class if model_field else None
        if cls and kind in self._rules and cls in self.class_rules:
            rule = self.class_rules[cls]
            return FieldRule(field, rule.transform, rule.options, rule.clause)
        return FieldRule(field, "drop", {}, f"kinds.{kind}.fields (not listed: dropped)")

    def _tied(self, kind: str, field: str, rule: FieldRule, model_field: Any) -> FieldRule:
        """Rules the model's ties between fields impose (schema.yaml ``from``, ``refers``):
        * a derived field is dropped when the agreement withholds some of its inputs and shares others — the
          shared ones and the derived value would give the withheld ones back (recovery date and time to crime
          give the purchase date);
        * a link's reference to a record (``from_ref``) reveals that record's ``source_id``: it gets the
          strictest of its own rule and the ``source_id`` rule of every kind the agreement shares, so a
          pseudonymized case number is not undone by the links that name it (the same pseudonym key makes the
          reference equal the end's pseudonym)."""
        if model_field is None or rule.transform in WITHHELD:
            return rule
        if model_field.sources:
            rules = {s: self.field_rule(kind, s).transform for s in model_field.sources}
            withheld = [s for s, t in rules.items() if t in WITHHELD]
            shared = [s for s, t in rules.items() if t not in WITHHELD]
            if withheld and shared:
                return FieldRule(field, "drop", {}, f"kinds.{kind}.fields.{field} (computed from {', '.join(withheld)}, "
                                 f"which the agreement withholds, and {', '.join(shared)}, which it shares: dropped)")
        if model_field.refers and not model_field.derived:
            ends = [(k, self.field_rule(k, "source_id")) for k in self.kinds()
                    if "source_id" in load_model().kind(k).fields]
            for k, end in ends:
                if STRICTNESS[end.transform] > STRICTNESS[rule.transform]:
                    rule = FieldRule(field, end.transform, end.options,
                                     f"kinds.{kind}.fields.{field} (names a {k} record: {end.clause})")
        return rule

    @cached_property
    def class_rules(self) -> dict[str, FieldRule]:
        """Rules that govern a data class in every kind (``classes: {name: match_only}``)."""
        return {cls: _rule(cls, rule, f"classes.{cls}") for cls, rule in (self.doc.get("classes") or {}).items()}

    def decide_kind(self, kind: str) -> Decision:
        if kind not in self.doc["kinds"]:
            return Decision("deny", "kinds", f"kind {kind} is not in the agreement")
        return Decision("allow", f"kinds.{kind}")

    def decide_record(self, kind: str, record: dict[str, Any]) -> Decision:
        """Allow or deny one record (a dict of store columns); the clause is the first filter that failed."""
        kind_decision = self.decide_kind(kind)
        if not kind_decision.allowed:
            return kind_decision
        for f in self.filters(kind):
            if not f.passes(record.get(f.column)):
                return Decision("deny", f.clause, f"{f.column} {f.op} {f.value}")
        return Decision("allow", f"kinds.{kind}.records" if self.filters(kind) else f"kinds.{kind}")

    def decide_field(self, kind: str, field: str) -> Decision:
        rule = self.field_rule(kind, field)
        return Decision(rule.transform, rule.clause)

    def match_only_fields(self, kind: str) -> list[str]:
        """Fields withheld from bundles but available for privacy-preserving matching (the link package)."""
        rules = self._rules.get(kind, ([], {}))[1]
        listed = [name for name, rule in rules.items() if rule.transform == "match_only"]
        by_class = [name for name in (load_model().kinds[kind].fields if kind in self._rules else ())
                    if name not in rules and self.field_rule(kind, name).transform == "match_only"]
        return listed + by_class

    def hits_terms(self) -> dict[str, Any]:
        """The hit/no-hit terms (section ``hits``), defaults filled in; see HITS_DEFAULTS."""
        return {**HITS_DEFAULTS, **(self.doc.get("hits") or {})}

    def decide_onward(self) -> Decision:
        if self.onward_transfer:
            return Decision("allow", "onward_transfer")
        return Decision("deny", "onward_transfer", "onward transfer to a third party is not allowed")

    # -- files ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> Agreement:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: a date that does not exist, bad UTF-8
            raise ConfigError("bad_agreement", path=str(path), error=str(exc).splitlines()[0]) from None
        sig_path = signature_path(path)
        sigs = json.loads(sig_path.read_text(encoding="utf-8")) if sig_path.exists() else {}
        return cls(doc, sigs, str(path))

    def save_signatures(self, path: Path) -> None:
        signature_path(path).write_text(json.dumps(self.signatures, indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")

    def to_yaml(self) -> str:
        return str(yaml.safe_dump(self.doc, sort_keys=False, allow_unicode=True))


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig.json")


def _rule(name: str, rule: Any, clause: str) -> FieldRule:
    spec = {"transform": rule} if isinstance(rule, str) else dict(rule)
    transform = spec.pop("transform")
    return FieldRule(name, transform, spec, clause)
