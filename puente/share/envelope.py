"""DSSE envelopes signed with Ed25519 (https://github.com/secure-systems-lab/dsse).

The signature covers ``PAE(payloadType, payload)`` =
``"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload``. The envelope must be exactly the
canonical JSON this module writes (sorted keys, compact, canonical base64): any other bytes —
even an alteration that decodes to the same payload — are rejected, so a single flipped bit
anywhere in a bundle is always caught before the payload is read.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from puente.errors import BundleError

BUNDLE_TYPE = "application/vnd.puente.bundle.v1"
RECEIPT_TYPE = "application/vnd.puente.purge-receipt.v1+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _dump(env: dict[str, object]) -> bytes:
    return json.dumps(env, sort_keys=True, separators=(",", ":")).encode()


def seal(payload_type: str, payload: bytes, key: Ed25519PrivateKey, keyid: str) -> bytes:
    sig = key.sign(pae(payload_type, payload))
    return _dump({"payload": base64.b64encode(payload).decode(), "payloadType": payload_type,
                  "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}]})


@dataclass(frozen=True)
class Opened:
    payload_type: str
    keyid: str
    _payload_b64: str
    _sig: bytes

    def verify(self, key: Ed25519PublicKey) -> bytes:
        """The payload, once the signature by ``key`` holds (else BundleError)."""
        payload = _b64(self._payload_b64, "payload")
        try:
            key.verify(self._sig, pae(self.payload_type, payload))
        except InvalidSignature:
            raise BundleError("bundle_rejected", reason="the signature does not verify") from None
        return payload


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("bundle_rejected", reason=f"the {what} is not valid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise BundleError("bundle_rejected", reason=f"the {what} is not canonical base64")
    return raw


def open_envelope(data: bytes) -> Opened:
    """Read the envelope (not the payload): type, key id and signature. Rejects anything non-canonical."""
    try:
        env = json.loads(data)
        sigs = env["signatures"]
        ok = (isinstance(env, dict) and set(env) == {"payload", "payloadType", "signatures"}
              and isinstance(sigs, list) and len(sigs) == 1 and set(sigs[0]) == {"keyid", "sig"}
              and all(isinstance(v, str) for v in (env["payload"], env["payloadType"], *sigs[0].values())))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        ok = False
    if not ok:
        raise BundleError("bundle_rejected", reason="not a DSSE envelope")
    if _dump(env) != data:
        raise BundleError("bundle_rejected", reason="the envelope is not in canonical form (altered)")
    return Opened(env["payloadType"], sigs[0]["keyid"], env["payload"], _b64(sigs[0]["sig"], "signature"))
