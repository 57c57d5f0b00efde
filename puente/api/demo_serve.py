"""The end of `puente demo`: connect the two demo nodes and serve both dashboards.

The nodes sign one agreement, exchange signed bundles both ways, share a hit/no-hit secret,
learn each other's API address, get demo accounts, and then both APIs and dashboards are
served (U.S. node on one port, Mexican node on the next) until Ctrl-C.
"""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import yaml
from rich.console import Console

from puente.i18n import t
from puente.model import load_model
from puente.node import Node

DEMO_PASSWORD = "puente-demo-2024"
ROLES = ("analyst", "steward", "admin")


def demo_agreement(a: Node, b: Node) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for kind in load_model().kinds.values():
        if kind.nature == "statistic":
            continue  # public statistics: each node loads them itself
        kinds[kind.name] = {"fields": {f: "keep" for f in kind.fields}}
    # people and vehicles are not sent: they can only be matched privately (hit/no-hit), then asked for
    kinds["person"]["fields"] = {f: "match_only" for f in kinds["person"]["fields"]}
    kinds["person"]["fields"].update({"id_number": "drop", "nationality": "keep"})
    kinds["vehicle"]["fields"].update({"plate": "match_only", "vin": "match_only"})
    kinds["seizure"]["fields"]["notes"] = "drop"
    kinds["firearm_trace"]["fields"].pop("purchaser")  # a person's name: match-only, like people (classes below)
    doc = {"agreement": f"{a.name}-{b.name}-demo", "version": 1,
           "parties": [{"node": n.name, "public_key": n.public_key_pem} for n in (a, b)],
           "purpose": "fentanyl, precursor and firearm trafficking (demo)", "handling": "TLP:AMBER",
           "retention_days": 730, "onward_transfer": False, "valid_from": "2018-01-01", "valid_until": "2099-12-31",
           "kinds": kinds, "classes": {"name": "match_only"}}
    return cast(dict[str, Any], yaml.safe_load(yaml.safe_dump(doc)))


def connect_nodes(us: Node, mx: Node, ports: tuple[int, int], host: str = "127.0.0.1") -> list[Any]:
    """Sign the demo agreement, exchange bundles both ways, create accounts and partner links.
    Returns the two import reports (U.S.→MX, MX→U.S.)."""
    from puente.api.auth import add_user, issue_token
    from puente.api.partners import connect
    from puente.link import hits
    from puente.share import registry
    from puente.share.agreement import Agreement
    from puente.share.export import export_bundle
    from puente.share.receive import import_bundle

    agreement = Agreement(demo_agreement(us, mx))
    for n in (us, mx):
        agreement.sign(n.name, n.signing_key)
    for n in (us, mx):
        with n.open_store() as store:
            registry.install(n, store, agreement, "demo")
    reports = []
    for sender, recipient in ((us, mx), (mx, us)):
        with sender.open_store() as store:
            data = export_bundle(sender, store, recipient.name, actor="demo")
        with recipient.open_store() as store:
            reports.append(import_bundle(recipient, store, data, actor="demo"))
    tokens = {}
    for n, partner in ((us, mx), (mx, us)):
        with n.open_store() as store:
            for role in ROLES:
                add_user(store, role, role, DEMO_PASSWORD)
            add_user(store, partner.name, "partner-node", None, partner=partner.name)
            tokens[n.name] = issue_token(store, partner.name, label="demo partner link")
    urls = {us.name: f"http://{host}:{ports[0]}", mx.name: f"http://{host}:{ports[1]}"}
    for n, partner in ((us, mx), (mx, us)):
        with n.open_store() as store:
            connect(n, store, partner.name, urls[partner.name], tokens[partner.name])
    secret = hits.new_secret()
    hits.save_secret(us.home, mx.name, secret)
    hits.save_secret(mx.home, us.name, secret)
    return reports


def serve_nodes(nodes: list[Node], ports: list[int], host: str = "127.0.0.1",
                console: Console | None = None) -> None:
    import uvicorn

    from puente.api.app import create_app

    servers = [uvicorn.Server(uvicorn.Config(create_app(n), host=host, port=p, log_level="warning"))
               for n, p in zip(nodes, ports)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in servers]
    for th in threads:
        th.start()
    for n, p in zip(nodes, ports):
        if console:
            console.print(t("api_serving", url=f"http://{host}:{p}/", node=n.name))
    if console:
        console.print(t("api_demo_accounts", users=", ".join(ROLES), password=DEMO_PASSWORD))
    try:
        while any(th.is_alive() for th in threads):
            time.sleep(0.5)
    except KeyboardInterrupt:
        for s in servers:
            s.should_exit = True
        for th in threads:
            th.join(10)
