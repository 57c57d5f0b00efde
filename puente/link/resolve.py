"""Entity resolution with Splink: Fellegi–Sunter, m-probabilities trained with EM.

:func:`resolve` takes a frame of records of one kind (a node's own and its partners', in
the same table; ``owner_node`` is just another column, so within-node and cross-node
duplicates are found in one pass), trains the model, scores the blocked pairs and
clusters them. Every scored pair keeps its evidence: for each comparison, the level that
applied and its contribution to the match weight (log2 Bayes factor).

Clustering is ours (union–find over pairs in decreasing probability) rather than Splink's,
so that analyst decisions act as constraints: a *confirm* joins two records whatever the
model says, a *split* keeps them apart (a merge that would put them together is refused).
The cluster id is the id of the cluster's anchor: its oldest record (then smallest id), so
it does not change when a re-run adds newer records.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from puente.engine.splink import splink_backend
from puente.link.normalize import is_missing, taxid_valid
from puente.link.specs import Spec, get_spec

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator

log = logging.getLogger(__name__)

# Larger tables are trained on a random sample of this many records (the EM blocks grow with the
# square of the table; the estimates do not need them), then every record is scored.
TRAIN_RECORDS = 300_000


@dataclass
class Resolution:
    kind: str
    pairs: pd.DataFrame  # unique_id_l, unique_id_r, match_weight, match_probability, evidence
    clusters: dict[str, str]  # record id -> cluster id
    model: dict[str, Any]  # trained parameters (m/u per level), for the run record
    skipped: list[str] = field(default_factory=list)  # training steps the table could not support, with why

    @property
    def cluster_count(self) -> int:
        return len(set(self.clusters.values()))


def _settings(spec: Spec, prepared: pd.DataFrame) -> Any:
    from splink import SettingsCreator
    from splink.blocking_rule_library import CustomRule

    cols = {c for c in prepared.columns if prepared[c].notna().any()}
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=spec.comparisons(cols),
        # what Splink itself does with a SQL string (to_blocking_rule_creator), done here so the types say so
        blocking_rules_to_generate_predictions=[CustomRule(rule) for rule in spec.blocking],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        max_iterations=20,
        em_convergence=0.001,
    )


def train_and_predict(spec: Spec, prepared: pd.DataFrame, backend: str = "duckdb", spark: Any = None,
                      threshold: float = 0.5, seed: int = 1,
                      skipped: list[str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train (prior from deterministic rules, u by random sampling, m by EM) and score pairs. The training steps
    a small table cannot support are left out and named, with why, in ``skipped``."""
    from splink import Linker

    logging.getLogger("splink").setLevel(logging.ERROR)

    engine = splink_backend(backend, spark)  # puente/engine/splink.py: DuckDB or Spark
    db_api = engine.db_api()
    prepared = _typed(prepared, empty_as_text=engine.empty_as_text)  # Spark: the engine gives the schema
    table = engine.table(db_api, prepared, _LIST_COLUMNS, is_missing)
    settings = _settings(spec, prepared)
    if len(prepared) <= TRAIN_RECORDS:
        linker, notes = _train(spec, lambda model: Linker(table, model, db_api=db_api, set_up_basic_logging=False),
                               settings, len(prepared), seed)
    else:
        # Train on a random sample: within a block, true and false pairs both shrink with the
        # square of the sampling fraction, so the prior, m and u estimates carry over unchanged.
        sample = prepared.sample(n=TRAIN_RECORDS, random_state=seed)
        trainer_api = engine.db_api()
        sample_table = engine.table(trainer_api, sample, _LIST_COLUMNS, is_missing)
        trainer, notes = _train(spec, lambda model: Linker(sample_table, model, db_api=trainer_api,
                                                           set_up_basic_logging=False), settings, len(sample), seed)
        linker = Linker(table, trainer.misc.save_model_to_json(), db_api=db_api, set_up_basic_logging=False)
    if skipped is not None:
        skipped.extend(notes)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    model = linker.misc.save_model_to_json()
    return _scored_pairs(linker, predictions), model


# The columns of Splink's predictions that the scored pairs keep (the evidence reads gamma_ and bf_ columns).
_PAIR_COLUMNS = ("unique_id_l", "unique_id_r", "match_weight", "match_probability")


def _scored_pairs(linker: Any, predictions: Any) -> pd.DataFrame:
    """The scored pairs with their evidence, fetched from the backend with only the columns they use.

    Splink's predictions also retain every matching column of both records (and term-frequency columns): at
    scale 200,000 (81,000 person records) fetching them all took 87% of `analyze all`'s resolution time and
    grew the process past 11 GB (bench/results/analytics.md); the same rows with these columns are the same
    pairs and evidence. The backend's copy is dropped once fetched."""
    keep = [c.name for c in predictions.columns  # c.name: quoted as the backend's SQL wants it
            if c.unquote().name in _PAIR_COLUMNS or c.unquote().name.startswith(("gamma_", "bf_"))]
    scored: pd.DataFrame = linker.misc.query_sql(f"SELECT {', '.join(keep)} FROM {predictions.physical_name}")
    predictions.drop_table_from_database_and_remove_from_cache()
    return _with_evidence(scored, linker)


def _train(spec: Spec, make: Callable[[Any], Any], settings: Any, records: int, seed: int) -> tuple[Any, list[str]]:
    """A linker (``make``: one built from settings or a saved model) trained as far as the table allows, and the
    steps left out, each with why.

    In a small table no pair may meet a deterministic rule (Splink then estimates the prior as 0, and every pair
    scores 0), or an EM session may find no pairs, or nothing left to train once its blocking rule's comparisons
    are fixed (Splink then fails part-way and leaves the linker without its comparisons): the default prior is
    kept, and the linker is rebuilt from the model saved before the session."""
    linker = make(settings)
    skipped: list[str] = []
    try:
        rules: list[str | BlockingRuleCreator] = [*spec.deterministic]
        linker.training.estimate_probability_two_random_records_match(rules, recall=0.8)
    except Exception as exc:  # noqa: BLE001 - too few deterministic matches in a tiny table: keep the default prior
        skipped.append(f"prior from deterministic rules ({_first_line(exc)})")
        linker = make(settings)
    else:
        if not linker.misc.save_model_to_json().get("probability_two_random_records_match", 0) > 0:
            skipped.append("prior from deterministic rules (no pair meets one; the default prior is kept)")
            linker = make(settings)
    pairs_budget = int(min(5e6, max(1e5, records ** 2 / 4)))
    linker.training.estimate_u_using_random_sampling(max_pairs=pairs_budget, seed=seed)
    for rule in spec.training_blocks:
        saved = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule, fix_u_probabilities=True)
        except Exception as exc:  # noqa: BLE001 - a blocking rule with no pairs in a small table
            skipped.append(f"EM on {rule} ({_first_line(exc)})")
            linker = make(saved)
    for note in skipped:
        log.info("training step skipped: %s", note)
    return linker, skipped


def _first_line(exc: Exception) -> str:
    """The first sentence of a Splink error (its SQL left out)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split(". ")[0].rstrip(".:")[:160]


_LIST_COLUMNS = {"given_keys", "org_tokens"}


def _typed(prepared: pd.DataFrame, empty_as_text: bool = True) -> pd.DataFrame:
    """Every prepared column is text (or a list of text): say so, even when a column is all empty (for DuckDB,
    which would otherwise guess INTEGER; Spark gets its schema from the engine (puente/engine/splink.py), and a pandas string column
    there takes a different conversion path that changed the trained model)."""
    out = prepared.copy()
    for col in out.columns:
        if col in _LIST_COLUMNS:
            continue
        if out[col].notna().any():
            out[col] = out[col].astype("string").astype(object).where(out[col].notna(), None)
        elif empty_as_text:  # all empty (organizations without tax ids): typed text, not DuckDB's guess (INTEGER)
            out[col] = pd.array([None] * len(out), dtype="string")
    return out


def _level_labels(linker: Any) -> dict[str, dict[int, str]]:
    labels: dict[str, dict[int, str]] = {}
    for comparison in linker._settings_obj.comparisons:
        name = comparison.output_column_name
        labels[name] = {lvl.comparison_vector_value: lvl.label_for_charts for lvl in comparison.comparison_levels}
    return labels


def _with_evidence(scored: pd.DataFrame, linker: Any) -> pd.DataFrame:
    """The pairs with their evidence (JSON: field, level, weight per comparison). A pair's evidence depends only
    on its comparison levels and Bayes factors, which few distinct combinations share: each combination's text
    is written once and given to its pairs (at scale 200,000 millions of pairs; one ``json.dumps`` per pair
    took longer than training and scoring)."""
    labels = _level_labels(linker)
    names = [n for n in labels if f"gamma_{n}" in scored.columns]
    cols = [c for n in names for c in (f"gamma_{n}", f"bf_{n}") if c in scored.columns]
    out = scored[["unique_id_l", "unique_id_r", "match_weight", "match_probability"]].copy()
    if not cols or scored.empty:
        out["evidence"] = [_evidence_text(names, labels, {}) for _ in range(len(scored))]
        return out
    keys = scored[cols].reset_index(drop=True)
    group = keys.groupby(cols, dropna=False, sort=False).ngroup().to_numpy()
    firsts = keys.assign(_g=group).drop_duplicates("_g")
    text = {int(g): _evidence_text(names, labels, row) for g, row in zip(firsts["_g"], firsts[cols].to_dict("records"))}
    out["evidence"] = [text[int(g)] for g in group]
    return out


def _evidence_text(names: list[str], labels: dict[str, dict[int, str]], row: dict[str, Any]) -> str:
    items = []
    for n in names:
        g = int(row[f"gamma_{n}"])
        bf = row.get(f"bf_{n}", 1.0)
        weight = round(math.log2(bf), 2) if bf and bf > 0 else None
        items.append({"field": n, "level": labels[n].get(g, str(g)), "weight": weight})
    return json.dumps(items, ensure_ascii=False)


Conflict = Callable[[set[str], set[str], set[tuple[str | None, str | None]]], bool]


class _Veto:
    """Values that tell two entities apart (birth dates of people, well-formed tax ids of firms): record id ->
    value, each group's set of values, and the test that says two groups' sets are two entities'."""

    def __init__(self, values: dict[str, str], conflict: Conflict, known: dict[str, str]) -> None:
        self.value = {k: v for k, v in values.items() if k in known}
        self.groups: dict[str, set[str]] = {k: {v} for k, v in self.value.items()}
        self.conflict = conflict


class _UnionFind:
    def __init__(self, items: Iterable[str], vetoes: Iterable[tuple[dict[str, str], Conflict]] = ()) -> None:
        self.parent = {i: i for i in items}
        self.members: dict[str, set[str]] = {}
        self.vetoes = [_Veto(values, conflict, self.parent) for values, conflict in vetoes]

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def group(self, root: str) -> set[str]:
        return self.members.get(root, {root})

    def union(self, a: str, b: str, cannot: dict[str, set[str]], check_births: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ga, gb = self.group(ra), self.group(rb)
        if len(ga) > len(gb):
            ra, rb, ga, gb = rb, ra, gb, ga
        if any(other in gb for rec in ga for other in cannot.get(rec, ())):
            return False
        if check_births:
            for veto in self.vetoes:
                # the pair's own two values were weighed by the model (a typo in a birth date is common: FEBRL4);
                # a conflict with any *other* member's value means the pair would chain two entities into one
                own = {(veto.value.get(a), veto.value.get(b)), (veto.value.get(b), veto.value.get(a))}
                if veto.conflict(veto.groups.get(ra, set()), veto.groups.get(rb, set()), own):
                    return False
        self.parent[ra] = rb
        self.members[rb] = ga | gb
        self.members.pop(ra, None)
        for veto in self.vetoes:
            va = veto.groups.pop(ra, None)
            if va:
                veto.groups[rb] = va | veto.groups.get(rb, set())
        return True


def births_conflict(a: str, b: str) -> bool:
    """Two full birth dates (``YYYY-MM-DD``) that are two people's: different, and not one typo apart
    (:func:`one_typo_apart`), however close they are. Dates that do not parse never conflict."""
    try:
        dt.date.fromisoformat(a), dt.date.fromisoformat(b)
    except ValueError:
        return False
    return a != b and not one_typo_apart(a, b)


def dates_conflict(a: set[str], b: set[str], own: set[tuple[str | None, str | None]] | None = None) -> bool:
    """Two groups' birth dates are two people's: some date of one conflicts with some date of the other
    (:func:`births_conflict`; pairs in ``own`` excepted), unless every date of one group is, or is one typo
    from, a date of the other. One person's records may carry two different typos of his date (1988-03-19
    written 1988-03-18 and 1988-08-19, two typos apart from each other): both are one typo from his date."""
    own = own or set()
    if not any(births_conflict(x, y) for x in a for y in b if (x, y) not in own):
        return False
    return not (_covered(a, b) or _covered(b, a))


def _covered(a: set[str], b: set[str]) -> bool:
    return all(any(x == y or one_typo_apart(x, y) for y in b) for x in a)


def taxid_conflict(a: str, b: str) -> bool:
    """Two well-formed tax ids (:func:`puente.link.normalize.taxid_valid`) that are two firms': different, not
    one slip apart (:func:`taxid_slip`), and, for two RFCs, not the same name letters and incorporation date
    (only the homoclave differs: the model weighs that level, it does not veto)."""
    if a == b or taxid_slip(a, b):
        return False
    rfc = len(a) >= 12 and len(b) >= 12 and not a.isdigit() and not b.isdigit()
    return not (rfc and a[:-3] == b[:-3])


def taxid_slip(a: str, b: str) -> bool:
    """One character mistyped, dropped or added, or two adjacent characters swapped."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (u, v) in enumerate(zip(a, b)) if u != v]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def taxids_conflict(a: set[str], b: set[str], own: set[tuple[str | None, str | None]] | None = None) -> bool:
    """Two groups' well-formed tax ids are two firms': some tax id of one conflicts with some tax id of the
    other (:func:`taxid_conflict`), unless every tax id of one group is, or is one slip from, a tax id of the
    other. Unlike birth dates, the pair's own two tax ids are not excepted (``own`` is ignored): a firm's tax
    id is copied from its papers, not typed from memory, so two well-formed different ones veto a match made
    on a similar name alone (issue 13: fronts joined to legitimate importers by the first word of a name)."""
    if not any(taxid_conflict(x, y) for x in a for y in b):
        return False
    return not (_taxids_covered(a, b) or _taxids_covered(b, a))


def _taxids_covered(a: set[str], b: set[str]) -> bool:
    return all(any(not taxid_conflict(x, y) for y in b) for x in a)


def one_typo_apart(a: str, b: str) -> bool:
    """One slip turns one ISO date into the other: one digit mistyped, two adjacent digits of ``YYYYMMDD``
    swapped (``1965`` for ``1956``), or day and month exchanged (dd/mm read as mm/dd)."""
    x, y = a.replace("-", ""), b.replace("-", "")
    if len(x) != len(y):
        return False
    diff = [i for i, (u, v) in enumerate(zip(x, y)) if u != v]
    if len(diff) == 1:
        return True
    if len(diff) == 2 and diff[1] == diff[0] + 1 and x[diff[0]] == y[diff[1]] and x[diff[1]] == y[diff[0]]:
        return True
    return len(x) == 8 and x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]


def cluster(ids: list[str], pairs: pd.DataFrame, threshold: float, confirms: Iterable[tuple[str, str]] = (),
            splits: Iterable[tuple[str, str]] = (), anchor_order: dict[str, Any] | None = None,
            births: dict[str, str] | None = None, taxids: dict[str, str] | None = None) -> dict[str, str]:
    """Record id -> cluster id, honouring analyst decisions (confirm joins, split separates).

    Pairs join in order of probability; a pair never joins two groups whose records hold conflicting birth
    dates (``births``: record id -> ``YYYY-MM-DD``; :func:`dates_conflict`), so two namesakes are not made one
    person through a third record that gives no birth date; such a record, matching both, is left on its own
    (:func:`_ambiguous`). Firms' well-formed tax ids (``taxids``: record id -> compacted tax id;
    :func:`taxids_conflict`) veto the same way: two firms with similar names and different tax ids stay two.
    An analyst's confirm joins regardless."""
    cannot: dict[str, set[str]] = {}
    for a, b in splits:
        cannot.setdefault(a, set()).add(b)
        cannot.setdefault(b, set()).add(a)
    vetoes: list[tuple[dict[str, str], Conflict]] = []
    if births:  # looked up when called: bench/dob_people.py swaps the module's rule for the previous one
        vetoes.append((births, lambda a, b, own: dates_conflict(a, b, own)))
    if taxids:
        vetoes.append((taxids, taxids_conflict))
    uf = _UnionFind(ids, vetoes)
    known = set(ids)
    for a, b in confirms:
        if a in known and b in known:
            uf.union(a, b, cannot)
    strong = pairs[pairs["match_probability"] >= threshold].sort_values("match_probability", ascending=False)
    for a, b in zip(strong["unique_id_l"], strong["unique_id_r"]):
        uf.union(a, b, cannot, check_births=True)
    order = anchor_order or {}
    groups: dict[str, list[str]] = {}
    for rec in ids:
        groups.setdefault(uf.find(rec), []).append(rec)
    for rec in _ambiguous(uf, strong, known):  # matches two people (or firms) equally: neither's
        groups[uf.find(rec)].remove(rec)
        groups["\x00" + rec] = [rec]
    out: dict[str, str] = {}
    for members in groups.values():
        if not members:
            continue
        anchor = min(members, key=lambda r: (str(order.get(r, "")), r))
        for rec in members:
            out[rec] = anchor
    return out


def resolve(kind: str, records: pd.DataFrame, backend: str = "duckdb", spark: Any = None,
            threshold: float | None = None,
            confirms: Iterable[tuple[str, str]] = (), splits: Iterable[tuple[str, str]] = (),
            anchor_order: dict[str, Any] | None = None) -> Resolution:
    """Resolve the records of one kind (a frame with ``id`` and the model's field names)."""
    spec = get_spec(kind)
    threshold = spec.threshold if threshold is None else threshold
    skipped: list[str] = []
    prepared, pairs, model = train_by_content(spec, spec.prepare(records.reset_index(drop=True)), backend, spark,
                                              threshold=min(0.3, threshold), skipped=skipped)
    clusters = cluster(list(prepared["unique_id"]), pairs, threshold, confirms, splits, anchor_order,
                       birth_dates(prepared, "unique_id", "dob"), tax_ids(prepared, "unique_id", "taxid"))
    return Resolution(kind=spec.kind, pairs=pairs, clusters=clusters, model=model, skipped=skipped)


def train_by_content(spec: Spec, prepared: pd.DataFrame, backend: str = "duckdb", spark: Any = None,
                     threshold: float = 0.5, skipped: list[str] | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """:func:`train_and_predict` on the records in content order (:func:`by_content`): Splink sees each record
    under its place in that order (it samples in ``unique_id`` order), and the pairs come back under the record
    ids, the smaller on the left (as Splink orients its own ids). Returns the ordered records, the pairs and the
    model."""
    prepared = by_content(prepared)
    ids = prepared["unique_id"].to_numpy()
    places = prepared.assign(unique_id=[f"{i:010d}" for i in range(len(prepared))])
    pairs, model = train_and_predict(spec, places, backend, spark, threshold=threshold, skipped=skipped)
    if len(pairs):
        left, right = (ids[pairs[side].astype(int).to_numpy()] for side in ("unique_id_l", "unique_id_r"))
        swap = left > right
        pairs["unique_id_l"], pairs["unique_id_r"] = np.where(swap, right, left), np.where(swap, left, right)
    return prepared, pairs, model


def by_content(prepared: pd.DataFrame) -> pd.DataFrame:
    """The prepared records in an order given by what they hold, not by their ids.

    Training samples records (Splink's u by random sampling, in ``unique_id`` order; the sample of the records
    past ``TRAIN_RECORDS``, by row), and record ids are keyed per node: two nodes holding the same records (or
    one node rebuilt from the same files) trained on different samples and resolved them into different
    entities (a 200k world: 905 and 971 organisations). Ordered by a digest of every compared column (and
    handed to Splink under their places in this order: :func:`train_by_content`), the same records give the same model
    and the same entities whatever their ids; records that hold the same values are interchangeable to
    training, and the id only breaks their tie."""
    if prepared.empty:
        return prepared
    digest = pd.util.hash_pandas_object(prepared.drop(columns=["unique_id"]).astype(str), index=False).to_numpy()
    order = np.lexsort((prepared["unique_id"].to_numpy().astype(str), digest))  # by digest, then id
    return prepared.iloc[order].reset_index(drop=True)


def _ambiguous(uf: _UnionFind, strong: pd.DataFrame, known: set[str]) -> list[str]:
    """Records without a birth date (a tax id) whose scored pairs reach two groups that hold conflicting birth
    dates (tax ids): two namesakes, and the record could be either, so it is left on its own."""
    if not uf.vetoes or strong.empty:
        return []
    partners: dict[str, set[str]] = {}
    for a, b in zip(strong["unique_id_l"], strong["unique_id_r"]):
        if a in known and b in known:
            partners.setdefault(a, set()).add(uf.find(b))
            partners.setdefault(b, set()).add(uf.find(a))
    out = []
    for rec, roots in partners.items():
        roots = roots | {uf.find(rec)}
        if len(roots) < 2:
            continue
        for veto in uf.vetoes:
            if rec in veto.value:
                continue
            held = [veto.groups.get(r, set()) for r in roots]
            if any(veto.conflict(x, y, set()) for i, x in enumerate(held) for y in held[i + 1:]):
                out.append(rec)
                break
    return sorted(out)


def birth_dates(frame: pd.DataFrame, id_col: str, date_col: str) -> dict[str, str]:
    """Record id -> birth date (``YYYY-MM-DD``) of the records that give one (none for kinds without)."""
    if date_col not in frame or id_col not in frame:
        return {}
    dates = pd.to_datetime(frame[date_col], errors="coerce")
    keep = dates.notna()
    return dict(zip(frame.loc[keep, id_col].astype(str), dates[keep].dt.strftime("%Y-%m-%d")))


def tax_ids(frame: pd.DataFrame, id_col: str, tax_col: str) -> dict[str, str]:
    """Record id -> well-formed tax id (compacted; :func:`puente.link.normalize.taxid_valid`) of the records
    that give one (none for kinds without)."""
    if tax_col not in frame or id_col not in frame:
        return {}
    out = {}
    for rec, value in zip(frame[id_col].astype(str), frame[tax_col]):
        code = taxid_valid(value)
        if code:
            out[rec] = code
    return out


def pair_scores(truth: dict[str, Any], clusters: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a clustering against true entity labels."""
    def pairs(labels: dict[str, Any]) -> set[tuple[str, str]]:
        groups: dict[Any, list[str]] = {}
        for rec, label in labels.items():
            groups.setdefault(label, []).append(rec)
        out: set[tuple[str, str]] = set()
        for members in groups.values():
            members.sort()
            out.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
        return out

    common = {r: truth[r] for r in clusters if r in truth}
    true_pairs, found = pairs(common), pairs({r: clusters[r] for r in common})
    tp = len(true_pairs & found)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": len(true_pairs),
            "found_pairs": len(found), "tp": tp}
