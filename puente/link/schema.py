"""Tables of the link package (migration versions 300–399).

* ``link_runs``       one row per resolution run (kind, backend, counts, trained model).
* ``link_matches``    scored pairs of the latest run of a kind, each with its evidence.
* ``link_entities``   record -> stable cluster id for the latest run of a kind.
* ``link_decisions``  analyst confirms and splits; they outlive every re-run.
* ``hits_queries``    hit/no-hit queries sent and received.
* ``hits_sent``       (querying node) which of our records each encoding in a query stands for.
* ``hits_refs``       (answering node) the opaque reference given for each hit -> the local record.
* ``hits_results``    (querying node) which of our records hit which partner reference.
* ``hits_requests``   follow-up requests for a reference and the steward's decision.
* ``hits_identity``   (answering node) per partner and day, the identity signatures of the encodings answered
  (64-bit hashes, never the encodings): the per-identity budget (``link.identity``).
"""

from __future__ import annotations

from puente.store.base import Store
from puente.store.migrations import register


@register(300, "link: runs, matches, entities, analyst decisions")
def _link_tables(store: Store) -> None:
    store.execute(
        "CREATE TABLE IF NOT EXISTS link_runs (run_id TEXT PRIMARY KEY, kind TEXT, backend TEXT, "
        "started_at TIMESTAMP, finished_at TIMESTAMP, records BIGINT, pairs BIGINT, clusters BIGINT, "
        "threshold FLOAT8, model TEXT)"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS link_matches (kind TEXT, record_l TEXT, record_r TEXT, match_weight FLOAT8, "
        "match_probability FLOAT8, evidence TEXT, run_id TEXT, PRIMARY KEY (kind, record_l, record_r))"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS link_entities (kind TEXT, record_id TEXT, cluster_id TEXT, owner_node TEXT, "
        "run_id TEXT, PRIMARY KEY (kind, record_id))"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS link_decisions (decision_id TEXT PRIMARY KEY, kind TEXT, record_l TEXT, "
        "record_r TEXT, decision TEXT, analyst TEXT, reason TEXT, decided_at TIMESTAMP)"
    )


@register(301, "hits: queries, references, results, follow-up requests, local audit")
def _hits_tables(store: Store) -> None:
    store.execute(
        "CREATE TABLE IF NOT EXISTS hits_queries (query_id TEXT PRIMARY KEY, direction TEXT, partner TEXT, "
        "kind TEXT, fields TEXT, encodings BIGINT, rejected BIGINT, hits BIGINT, status TEXT, reason TEXT, "
        "created_at TIMESTAMP)"
    )
    store.execute("CREATE TABLE IF NOT EXISTS hits_sent (query_id TEXT, i BIGINT, local_id TEXT, "
                  "PRIMARY KEY (query_id, i))")
    store.execute(
        "CREATE TABLE IF NOT EXISTS hits_refs (ref TEXT PRIMARY KEY, query_id TEXT, partner TEXT, record_id TEXT, "
        "score FLOAT8, created_at TIMESTAMP)"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS hits_results (query_id TEXT, local_id TEXT, partner TEXT, ref TEXT, "
        "score FLOAT8, created_at TIMESTAMP, PRIMARY KEY (query_id, local_id, ref))"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS hits_requests (request_id TEXT PRIMARY KEY, direction TEXT, partner TEXT, "
        "ref TEXT, query_id TEXT, requested_by TEXT, reason TEXT, status TEXT, decided_by TEXT, "
        "decision_reason TEXT, created_at TIMESTAMP, decided_at TIMESTAMP)"
    )


@register(302, "hits: per-day identity signatures of answered encodings (the per-identity budget)")
def _hits_identity(store: Store) -> None:
    store.execute("CREATE TABLE IF NOT EXISTS hits_identity (partner TEXT, day DATE, signature BIGINT, "
                  "encoding BIGINT, batch TEXT)")
    store.execute("CREATE INDEX IF NOT EXISTS hits_identity_sig ON hits_identity (partner, day, signature)")
