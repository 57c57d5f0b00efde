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

TRANSFORMS = ("keep", "drop", "generalize_place", "truncate_date", "round", "pseudonymize", "match_only")
HANDLING = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
_TOP_KEYS = {"agreement", "version", "parties", "purpose", "handling", "retention_days", "onward_transfer",
             "valid_from", "valid_until", "kinds", "classes", "hits"}
_FILTER_OPS = ("in", "not_in", "from", "until")


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
        self.doc = _normalise(doc, source)
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
            filters = [RecordFilter(f["field"], op, f[op], f"kinds.{kind}.records[{i}]")
                       for i, f in enumerate(spec.get("records") or []) for op in _FILTER_OPS if op in f]
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
        """The field's own rule; else its data class's rule (``classes``); else drop."""
        rules = self._rules.get(kind, ([], {}))[1]
        if field in rules:
            return rules[field]
        model_kind = load_model().kinds.get(kind)
        model_field = model_kind.fields.get(field) if model_kind else None
        cls = model_field.data_class if model_field else None
        if cls and kind in self._rules and cls in self.class_rules:
            rule = self.class_rules[cls]
            return FieldRule(field, rule.transform, rule.options, rule.clause)
        return FieldRule(field, "drop", {}, f"kinds.{kind}.fields (not listed: dropped)")

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
        except (OSError, yaml.YAMLError) as exc:
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


def _normalise(doc: Any, source: str) -> dict[str, Any]:
    def bad(error: str) -> ConfigError:
        return ConfigError("bad_agreement", path=source or "agreement", error=error)

    if not isinstance(doc, dict):
        raise bad("not a mapping")
    unknown = set(doc) - _TOP_KEYS
    missing = {"agreement", "version", "parties", "purpose", "handling", "retention_days", "valid_from",
               "kinds"} - set(doc)
    if unknown or missing:
        raise bad(f"unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    doc = dict(doc)
    if doc["handling"] not in HANDLING:
        raise bad(f"handling must be one of {', '.join(HANDLING)}")
    parties = doc["parties"]
    if not isinstance(parties, list) or len(parties) != 2 or any(set(p) != {"node", "public_key"} for p in parties):
        raise bad("parties must list two nodes, each with node and public_key")
    for p in parties:
        try:
            public_key_from_pem(p["public_key"])
        except (ValueError, TypeError):
            raise bad(f"the public key of {p['node']} is not an Ed25519 PEM key") from None
    for key in ("valid_from", "valid_until"):
        if isinstance(doc.get(key), str):
            doc[key] = dt.date.fromisoformat(doc[key])
    doc["onward_transfer"] = bool(doc.get("onward_transfer", False))
    if not isinstance(doc["version"], int) or not isinstance(doc["retention_days"], int) or doc["retention_days"] < 0:
        raise bad("version and retention_days must be whole numbers")
    _check_hits(bad, doc.get("hits"))
    model = load_model()
    for kind, spec in (doc["kinds"] or {}).items():
        if kind not in model.kinds:
            raise bad(f"unknown record kind {kind}")
        k = model.kinds[kind]
        spec = spec or {}
        if set(spec) - {"records", "fields"}:
            raise bad(f"kinds.{kind} may only have records and fields")
        columns = {**k.columns()}
        for i, f in enumerate(spec.get("records") or []):
            ops = [op for op in _FILTER_OPS if op in f]
            if f.get("field") not in columns or len(ops) != 1 or set(f) != {"field", ops[0]}:
                raise bad(f"kinds.{kind}.records[{i}] needs a column of {kind} and one of {', '.join(_FILTER_OPS)}")
            if ops[0] in ("from", "until") and columns[f["field"]] == "DATE" and isinstance(f[ops[0]], str):
                f[ops[0]] = dt.date.fromisoformat(f[ops[0]])
        for name, rule in (spec.get("fields") or {}).items():
            transform = rule if isinstance(rule, str) else (rule or {}).get("transform")
            if name not in k.fields or transform not in TRANSFORMS:
                raise bad(f"kinds.{kind}.fields.{name}: unknown field or transform (use {', '.join(TRANSFORMS)})")
            _check_transform(bad, k.fields[name].type, name, kind, rule if isinstance(rule, dict) else {})
    _check_classes(bad, doc)
    return dict(doc)


def _rule(name: str, rule: Any, clause: str) -> FieldRule:
    spec = {"transform": rule} if isinstance(rule, str) else dict(rule)
    transform = spec.pop("transform")
    return FieldRule(name, transform, spec, clause)


# How much of a value a transform lets through: keep > coarsening > pseudonym > match-only > drop.
_STRICTNESS = {"keep": 0, "truncate_date": 1, "generalize_place": 1, "round": 1, "pseudonymize": 2, "match_only": 3,
               "drop": 4}


def _at_least_as_strict(rule: FieldRule, floor: FieldRule) -> bool:
    """Does ``rule`` reveal no more than ``floor``? Coarsenings compare by grain (month > week, lower H3
    resolution, a step that is a multiple of the class's step); admin2 and H3 do not compare."""
    mine, theirs = _STRICTNESS[rule.transform], _STRICTNESS[floor.transform]
    if mine != theirs or mine != 1:
        return mine >= theirs
    if rule.transform != floor.transform:
        return False
    a, b = rule.options, floor.options
    if rule.transform == "truncate_date":
        return bool(a["to"] == b["to"] or a["to"] == "month")
    if rule.transform == "round":
        ratio = float(a["step"]) / float(b["step"])
        return ratio >= 1 and abs(ratio - round(ratio)) < 1e-9
    if a["to"] != b["to"]:
        return False
    return a["to"] == "admin2" or int(a["resolution"]) <= int(b["resolution"])


def _check_classes(bad: Any, doc: dict[str, Any]) -> None:
    """``classes``: each rule fits every field of its class; no field rule reveals more than its class allows."""
    from puente.model import DATA_CLASSES

    classes = doc.get("classes") or {}
    if not isinstance(classes, dict):
        raise bad("classes must map a data class to a rule")
    model = load_model()
    floors: dict[str, FieldRule] = {}
    for cls, rule in classes.items():
        transform = rule if isinstance(rule, str) else (rule or {}).get("transform")
        if cls not in DATA_CLASSES or transform not in TRANSFORMS:
            raise bad(f"classes.{cls}: unknown data class or transform (classes: {', '.join(DATA_CLASSES)}; "
                      f"transforms: {', '.join(TRANSFORMS)})")
        for kind, name in model.fields_of_class(cls):
            _check_transform(bad, model.kinds[kind].fields[name].type, name, kind, rule if isinstance(rule, dict) else {})
        floors[cls] = _rule(cls, rule, f"classes.{cls}")
    for kind, spec in (doc["kinds"] or {}).items():
        for name, rule in ((spec or {}).get("fields") or {}).items():
            cls = model.kinds[kind].fields[name].data_class
            if cls in floors and not _at_least_as_strict(_rule(name, rule, ""), floors[cls]):
                floor = floors[cls]
                raise bad(f"kinds.{kind}.fields.{name} is {_rule(name, rule, '').transform}, but it holds a {cls} and "
                          f"classes.{cls} is {floor.transform}: it would reveal a {cls} the agreement withholds "
                          f"(make it {floor.transform} or stricter)")


def _check_transform(bad: Any, ftype: str, name: str, kind: str, rule: dict[str, Any]) -> None:
    where = f"kinds.{kind}.fields.{name}"
    transform = rule.get("transform")
    if transform == "generalize_place":
        ok = ftype == "place" and (rule.get("to") == "admin2" or (
            rule.get("to") == "h3" and isinstance(rule.get("resolution"), int) and 0 <= rule["resolution"] <= 8))
        if not ok:
            raise bad(f"{where}: generalize_place needs a place field and to: admin2, or to: h3 with resolution 0-8")
    elif transform == "truncate_date" and (ftype != "date" or rule.get("to") not in ("week", "month")):
        raise bad(f"{where}: truncate_date needs a date field and to: week or month")
    elif transform == "round" and (ftype not in ("number", "integer") or not isinstance(rule.get("step"), (int, float))
                                   or rule["step"] <= 0):
        raise bad(f"{where}: round needs a number field and a positive step")
    elif transform == "pseudonymize" and ftype in ("place", "date", "number", "integer"):
        raise bad(f"{where}: only identifiers and text can be pseudonymized (not a {ftype})")


# -- hit/no-hit terms (section ``hits``, optional) ---------------------------------------------
# min_fields: per kind, alternative sets of encoded fields a query and each of its encodings must
#   carry (the link package's defaults when a kind is not listed: a name with a date of birth or
#   an identifier); max_encodings_per_day and max_hit_rate (hits / encodings over the day, once
#   hit_rate_after encodings were answered): past either, queries are refused and flagged to the
#   steward; key_grace_days: how long matching keys of the superseded version stay accepted.
HITS_DEFAULTS: dict[str, Any] = {"min_fields": {}, "max_encodings_per_day": 200_000, "max_hit_rate": 0.5,
                                 "hit_rate_after": 100, "key_grace_days": 7}


def _check_hits(bad: Any, terms: Any) -> None:
    if terms is None:
        return
    if not isinstance(terms, dict) or set(terms) - set(HITS_DEFAULTS):
        raise bad(f"hits may only have {', '.join(HITS_DEFAULTS)}")
    for key in ("max_encodings_per_day", "hit_rate_after", "key_grace_days"):
        if key in terms and (not isinstance(terms[key], int) or isinstance(terms[key], bool) or terms[key] < 0):
            raise bad(f"hits.{key} must be a whole number >= 0")
    rate = terms.get("max_hit_rate", 0.5)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 < rate <= 1:
        raise bad("hits.max_hit_rate must be a number in (0, 1]")
    for kind, alternatives in (terms.get("min_fields") or {}).items():
        if not isinstance(alternatives, list) or not alternatives or not all(
                isinstance(a, list) and a and all(isinstance(f, str) for f in a) for a in alternatives):
            raise bad(f"hits.min_fields.{kind} must list sets of fields, e.g. [[given_names, surnames, birth_date]]")
