"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing and proofs.

Hashing (§2.1.1): ``leaf = SHA-256(0x00 || data)``, ``node = SHA-256(0x01 || left || right)``,
the root of the empty tree is ``SHA-256("")``. Proof generation follows §2.1.3.1 (inclusion,
``PATH``) and §2.1.4.1 (consistency, ``SUBPROOF``); verification follows §2.1.3.2 and §2.1.4.2
step by step. Both verifiers return ``None`` when the proof holds and raise
:class:`puente.errors.ProofError` (with the reason) when it does not or an input is malformed.

Edge cases (the RFC algorithms are defined for ``0 <= index < size`` and ``0 < size1 < size2``):

* inclusion in a tree of size 0, or ``index >= tree_size``: rejected;
* consistency with ``size1 > size2``: rejected;
* ``size1 == size2``: the proof must be empty (``SUBPROOF(m, D[m], true) = {}``) and the roots equal;
* ``size1 == 0``: every tree extends the empty tree; the proof must be empty and ``root1`` must be
  the empty-tree hash;
* ``0 < size1 < size2`` with an empty proof: rejected (§2.1.4.2 step 1);
* any hash that is not 32 bytes, or a proof with too many or too few elements: rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from puente.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes (§2.1.1)."""
    if not leaves:
        return EMPTY_ROOT
    return root_from_frontier(frontier(leaves))


def frontier(leaves: Sequence[bytes]) -> list[bytes]:
    """The roots of the perfect subtrees that make up a tree, largest first."""
    stack: list[tuple[int, bytes]] = []
    for leaf in leaves:
        stack = frontier_append_sized(stack, leaf)
    return [h for _, h in stack]


def frontier_append_sized(stack: list[tuple[int, bytes]], leaf: bytes) -> list[tuple[int, bytes]]:
    stack = stack + [(1, leaf)]
    while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
        (size, right), (_, left) = stack.pop(), stack.pop()
        stack.append((size * 2, node_hash(left, right)))
    return stack


def frontier_append(front: list[bytes], size: int, leaf: bytes) -> list[bytes]:
    """Add one leaf to the frontier of a tree of ``size`` leaves (O(log n), for append-only logs)."""
    sizes = [1 << b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
    if len(sizes) != len(front):
        raise ProofError(reason=f"frontier of {len(front)} hashes does not fit a tree of {size}")
    return [h for _, h in frontier_append_sized(list(zip(sizes, front)), leaf)]


def root_from_frontier(front: Sequence[bytes]) -> bytes:
    if not front:
        return EMPTY_ROOT
    result = front[-1]
    for h in reversed(front[:-1]):
        result = node_hash(h, result)
    return result


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) (§2.1.3.1)."""
    if not 0 <= index < len(leaves):
        raise ProofError(reason=f"index {index} is outside a tree of {len(leaves)}")
    return _path(index, leaves)


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return _path(m, d[:k]) + [root(d[k:])]
    return _path(m - k, d[k:]) + [root(d[:k])]


def consistency_proof(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """PROOF(m, D[n]) (§2.1.4.1); empty when m is 0 or n."""
    if not 0 <= size1 <= len(leaves):
        raise ProofError(reason=f"size {size1} is outside a tree of {len(leaves)}")
    if size1 in (0, len(leaves)):
        return []
    return _subproof(size1, leaves, True)


def _subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [root(d)]
    k = _split(n)
    if m <= k:
        return _subproof(m, d[:k], b) + [root(d[k:])]
    return _subproof(m - k, d[k:], False) + [root(d[:k])]


def _check_hashes(**named: bytes | Sequence[bytes]) -> None:
    for name, value in named.items():
        values = [value] if isinstance(value, (bytes, bytearray)) else list(value)
        for i, h in enumerate(values):
            if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_SIZE:
                where = name if isinstance(value, (bytes, bytearray)) else f"{name}[{i}]"
                raise ProofError(reason=f"{where} is not a {HASH_SIZE}-byte hash")


def _check_ints(**named: int) -> None:
    for name, value in named.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProofError(reason=f"{name} must be a non-negative integer, not {value!r}")


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: does ``proof`` show that ``leaf_hash`` is leaf ``index`` of the tree ``root``?"""
    _check_ints(index=index, tree_size=tree_size)
    _check_hashes(leaf_hash=leaf_hash, root=root, proof=proof)
    if index >= tree_size:  # step 1
        raise ProofError(reason=f"leaf index {index} is not below tree size {tree_size}")
    fn, sn = index, tree_size - 1  # step 2
    r = bytes(leaf_hash)  # step 3
    for p in proof:  # step 4
        if sn == 0:
            raise ProofError(reason="the inclusion proof has too many elements")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 5
        raise ProofError(reason="the inclusion proof has too few elements")
    if r != root:
        raise ProofError(reason="the inclusion proof leads to a different root")


def verify_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 §2.1.4.2: does ``proof`` show that tree ``root2`` (size2) extends tree ``root1`` (size1)?"""
    _check_ints(size1=size1, size2=size2)
    _check_hashes(root1=root1, root2=root2, proof=proof)
    if size1 > size2:
        raise ProofError(reason=f"first size {size1} is larger than second size {size2}")
    if size1 == size2:
        if proof:
            raise ProofError(reason="the consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise ProofError(reason="equal tree sizes with different roots")
        return
    if size1 == 0:
        if proof:
            raise ProofError(reason="the consistency proof from the empty tree must be empty")
        if root1 != EMPTY_ROOT:
            raise ProofError(reason="the root of the empty tree is not SHA-256 of the empty string")
        return
    if not proof:  # step 1
        raise ProofError(reason="the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: size1 is an exact power of 2
        path.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise ProofError(reason="the consistency proof has too many elements")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 7
        raise ProofError(reason="the consistency proof has too few elements")
    if fr != root1:
        raise ProofError(reason="the consistency proof does not lead to the first root")
    if sr != root2:
        raise ProofError(reason="the consistency proof does not lead to the second root")
