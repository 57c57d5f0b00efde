"""Signed checkpoints: (origin node, tree size, root hash, time), signed with the node's Ed25519 key.

The signed body is plain text so an outside verifier needs nothing but SHA-256 and Ed25519::

    puente-checkpoint/v1
    <node name>
    <tree size>
    <root hash, lowercase hex>
    <time, ISO 8601 UTC>

(each line ends with a newline). The signature is Ed25519 over exactly these bytes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEADER = "puente-checkpoint/v1"


@dataclass(frozen=True)
class Checkpoint:
    node: str
    size: int
    root: bytes
    at: str
    signature: bytes = b""

    def body(self) -> bytes:
        return f"{HEADER}\n{self.node}\n{self.size}\n{self.root.hex()}\n{self.at}\n".encode()

    def signed(self, key: Ed25519PrivateKey) -> Checkpoint:
        return Checkpoint(self.node, self.size, self.root, self.at, key.sign(self.body()))

    def valid(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(self.signature, self.body())
        except InvalidSignature:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "size": self.size, "root": self.root.hex(), "at": self.at,
                "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(node=str(data["node"]), size=int(data["size"]), root=bytes.fromhex(data["root"]),
                   at=str(data["at"]), signature=base64.b64decode(data["signature"]))


def public_key_from_pem(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError("not an Ed25519 public key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
