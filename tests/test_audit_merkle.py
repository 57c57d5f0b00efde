"""RFC 9162 hashing and proofs, against the published CT test vectors and every edge case."""

from __future__ import annotations

import hashlib

import pytest

from puente.audit import merkle
from puente.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from puente.errors import ProofError, PuenteError

# The eight leaves and roots used by RFC 6962/9162 implementations' test suites (certificate-transparency-go).
LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def test_proof_error_is_a_puente_error() -> None:
    assert issubclass(ProofError, PuenteError)


def test_empty_tree_and_known_roots() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    hashes = [leaf_hash(d) for d in LEAVES]
    for n in range(1, 9):
        assert merkle.root(hashes[:n]).hex() == ROOTS[n - 1]


def test_frontier_append_matches_root() -> None:
    front: list[bytes] = []
    leaves = _leaves(70)
    for i, leaf in enumerate(leaves):
        front = merkle.frontier_append(front, i, leaf)
        assert merkle.root_from_frontier(front) == merkle.root(leaves[: i + 1])


def test_known_inclusion_and_consistency_vectors() -> None:
    hashes = [leaf_hash(d) for d in LEAVES]
    # RFC 6962 test vectors: inclusion of leaf 0 in the 8-tree, consistency 1->8 and 6->8.
    assert [p.hex()[:8] for p in merkle.inclusion_proof(hashes, 0)] == ["96a296d2", "5f083f0a", "6b47aaf2"]
    assert [p.hex()[:8] for p in merkle.consistency_proof(hashes, 1)] == ["96a296d2", "5f083f0a", "6b47aaf2"]
    assert [p.hex()[:8] for p in merkle.consistency_proof(hashes, 6)] == ["0ebc5d34", "ca854ea1", "d37ee418"]


@pytest.mark.parametrize("n", range(1, 34))
def test_every_inclusion_proof_verifies_and_every_alteration_fails(n: int) -> None:
    leaves = _leaves(n)
    root = merkle.root(leaves)
    for i in range(n):
        proof = merkle.inclusion_proof(leaves, i)
        verify_inclusion(leaves[i], i, n, proof, root)
        bad_cases = [
            (_flip(leaves[i]), i, n, proof, root),
            (leaves[i], i, n, proof, _flip(root)),
            (leaves[i], i, n, proof + [leaves[0]], root),  # extra element
            (leaves[i], n, n, proof, root),  # index == size
        ]
        if proof:
            bad_cases += [(leaves[i], i, n, proof[:-1], root),  # missing element
                          (leaves[i], i, n, [_flip(proof[0])] + proof[1:], root),
                          (leaves[i], i, n, [proof[-1][:31]] + proof[1:], root)]  # wrong length
        if n > 1:
            bad_cases.append((leaves[i], (i + 1) % n, n, proof, root))
        for case in bad_cases:
            with pytest.raises(ProofError):
                verify_inclusion(*case)


@pytest.mark.parametrize("n", range(1, 34))
def test_every_consistency_proof_verifies_and_every_alteration_fails(n: int) -> None:
    leaves = _leaves(n)
    root2 = merkle.root(leaves)
    for m in range(n + 1):
        root1 = merkle.root(leaves[:m])
        proof = merkle.consistency_proof(leaves, m)
        verify_consistency(m, n, proof, root1, root2)
        bad = [(m, n, proof + [root1], root1, root2)]
        if m:  # (from the empty tree, any second root is consistent)
            bad += [(m, n, proof, _flip(root1), root2), (m, n, proof, root1, _flip(root2))]
        if 0 < m < n:
            bad += [(m, n, proof[:-1], root1, root2), (m, n, [], root1, root2),
                    (m, n, [_flip(proof[0])] + proof[1:], root1, root2),
                    (m, n, [proof[0] + b"\x00"] + proof[1:], root1, root2)]
            if m > 1:
                bad.append((m - 1, n, proof, root1, root2))
        for case in bad:
            with pytest.raises(ProofError):
                verify_consistency(*case)


def test_inclusion_edge_cases() -> None:
    h = leaf_hash(b"x")
    verify_inclusion(h, 0, 1, [], h)  # a single-leaf tree: empty proof, root == leaf
    for args in [(h, 0, 0, [], h),  # tree size 0
                 (h, 1, 1, [], h),  # index out of range
                 (h, -1, 1, [], h),
                 (h, 0, 1, [h], h),  # extra element
                 (h[:31], 0, 1, [], h[:31]),  # wrong hash length
                 (h, 0, 1, [], h + b"\x00"),
                 (h, 0, 2, [], h)]:  # missing element
        with pytest.raises(ProofError):
            verify_inclusion(*args)


def test_consistency_edge_cases() -> None:
    leaves = _leaves(5)
    r5, r3 = merkle.root(leaves), merkle.root(leaves[:3])
    verify_consistency(0, 0, [], merkle.EMPTY_ROOT, merkle.EMPTY_ROOT)
    verify_consistency(0, 5, [], merkle.EMPTY_ROOT, r5)
    verify_consistency(5, 5, [], r5, r5)
    for args in [(5, 5, [r3], r5, r5),  # equal sizes with a non-empty proof
                 (5, 5, [], r3, r5),  # equal sizes, different roots
                 (0, 5, [r3], merkle.EMPTY_ROOT, r5),  # from the empty tree with a proof
                 (0, 5, [], r3, r5),  # size 0 but not the empty root
                 (3, 5, [], r3, r5),  # empty proof
                 (5, 3, merkle.consistency_proof(leaves, 3), r5, r3),  # sizes reversed
                 (3, 5, merkle.consistency_proof(leaves, 3), r3[:16], r5),
                 (-1, 5, [], r3, r5)]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
