"""A node: its name, country, store and keys, kept in one directory.

    <home>/node.toml           name, country, store URL, created; a DuckDB store inside the node's
                               directory is written relative to it (``duckdb://store.duckdb``), so a
                               copied or moved node directory keeps using its own store
    <home>/keys/signing.key    Ed25519 private key (PEM, mode 0600), signs bundles and checkpoints
    <home>/keys/signing.pub    its public key, given to partners
    <home>/keys/id.key         32 random bytes: the HMAC key that namespaces record ids
    <home>/store.duckdb        the embedded store (unless the store is PostgreSQL)
    <home>/profiles/           the node's own ingest profiles (YAML or TOML)
    <home>/audit/              the latest signed audit head and partners' cosignatures (outside the store)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from puente.errors import ConfigError, StoreError, UsageError
from puente.settings import setting
from puente.store.base import Store, create_if_missing, open_store, store_file
from puente.store.epoch import attach as attach_epoch

COUNTRIES = ("US", "MX")


@dataclass
class Node:
    home: Path
    name: str
    country: str
    store_url: str

    # -- creation and loading ------------------------------------------------------------
    @classmethod
    def init(cls, home: Path, name: str, country: str, store_url: str | None = None) -> Node:
        country = country.upper()
        if country not in COUNTRIES:
            raise UsageError("bad_country_choice", country=country)
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise UsageError("bad_node_name", name=name)
        if (home / "node.toml").exists():
            raise UsageError("node_exists", home=str(home))
        home.mkdir(parents=True, exist_ok=True)
        keys = home / "keys"
        keys.mkdir(exist_ok=True)
        os.chmod(keys, 0o700)
        private = Ed25519PrivateKey.generate()
        _write_secret(keys / "signing.key", private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (keys / "signing.pub").write_bytes(private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        _write_secret(keys / "id.key", secrets.token_bytes(32))
        (home / "profiles").mkdir(exist_ok=True)
        given = store_url or setting("store")  # a relative DuckDB file typed by the user: from the working directory
        url = _absolute(given, Path.cwd()) if given else _absolute("duckdb://store.duckdb", home)
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        node = cls(home=home, name=name, country=country, store_url=url)
        create_if_missing(url)  # a PostgreSQL database the server lacks
        # the store first: if it cannot be opened, no node.toml is written and init can simply be re-run
        with node.open_store() as store:
            owner = store.scalar("SELECT value FROM node_meta WHERE key = 'name'")
            if owner is not None and owner != name:
                raise UsageError("store_belongs_to", store=url, owner=owner)
            with store.transaction():
                store.execute("DELETE FROM node_meta WHERE key IN ('name', 'country')")
                store.execute("INSERT INTO node_meta VALUES ('name', ?), ('country', ?)", [name, country])
        # json.dumps gives valid TOML basic strings (quotes and backslashes escaped)
        (home / "node.toml").write_text(
            f"name = {json.dumps(name)}\ncountry = {json.dumps(country)}\nstore = {json.dumps(_relative(url, home))}\n"
            f"created = {json.dumps(created)}\n", encoding="utf-8")
        return node

    @classmethod
    def load(cls, home: Path) -> Node:
        config = home / "node.toml"
        if not config.exists():
            raise ConfigError("no_node", home=str(home))
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
            name, country, configured = data["name"], data["country"], _absolute(data["store"], home)
        except (tomllib.TOMLDecodeError, KeyError) as exc:
            raise ConfigError("bad_node_config", path=str(config), error=str(exc)) from None
        url = setting("store", configured)
        if url == configured:
            _check_not_elsewhere(url, home, config)
        path = store_file(url)
        if path is not None and not Path(path).exists():  # init made it: a missing file is lost, never made anew
            raise StoreError("store_missing", path=path, name=name)
        return cls(home=home, name=name, country=country, store_url=url)

    # -- store and keys ------------------------------------------------------------------
    def open_store(self) -> Store:
        attach_epoch(self.store_url, self.home / "store.epoch")  # where this store's changes are announced
        store = open_store(self.store_url)
        from puente import stages

        try:
            for opened in stages.implementations("store_opened"):  # e.g. the audit head kept outside the store
                opened(self, store)
        except BaseException:
            store.close()
            raise
        return store

    @cached_property
    def id_key(self) -> bytes:
        return (self.home / "keys" / "id.key").read_bytes()

    @cached_property
    def signing_key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key((self.home / "keys" / "signing.key").read_bytes(), None)
        assert isinstance(key, Ed25519PrivateKey)
        return key

    @cached_property
    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    @property
    def public_key_pem(self) -> str:
        return (self.home / "keys" / "signing.pub").read_text(encoding="utf-8")

    @property
    def profiles_dir(self) -> Path:
        return self.home / "profiles"

    def record_id(self, kind: str, identity: str) -> str:
        """A stable id namespaced by this node: HMAC of the record's source identity."""
        mac = self._id_mac.copy()
        mac.update(f"{kind}\x1f{identity}".encode())
        return f"{self.name}:{kind}:{mac.hexdigest()[:24]}"

    @cached_property
    def _id_mac(self) -> hmac.HMAC:
        return hmac.new(self.id_key, digestmod=hashlib.sha256)


def _duckdb_file(url: str) -> str | None:
    """The file of a ``duckdb://`` URL as written (relative or absolute), None for other stores and memory."""
    return store_file(url)


def _absolute(url: str, base: Path) -> str:
    """A relative ``duckdb://file`` resolved against ``base`` (the node's home for node.toml,
    the working directory for a URL typed on the command line); other URLs unchanged."""
    path = _duckdb_file(url)
    if path is None or Path(path).is_absolute():
        return url
    return f"duckdb://{(base / path).resolve()}"


def _relative(url: str, home: Path) -> str:
    """How node.toml records the store: a DuckDB file inside the node's directory relative to it."""
    path = _duckdb_file(url)
    if path is None:
        return url
    try:
        return f"duckdb://{Path(path).relative_to(home.resolve()).as_posix()}"
    except ValueError:
        return url  # a store outside the node's directory stays absolute


def _check_not_elsewhere(url: str, home: Path, config: Path) -> None:
    """A node made before relative paths names its store by absolute path. Copied or moved, it would
    silently write to the original node's store (or a new empty one): refuse, and say the fix."""
    path = _duckdb_file(url)
    if path is None:
        return
    target, own = Path(path), home.resolve() / Path(path).name
    if target.parent != home.resolve() and own.exists() and not (target.exists() and target.samefile(own)):
        raise ConfigError("node_store_elsewhere", path=str(config), store=str(target), local=str(own),
                          relative=f"duckdb://{own.name}")


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
