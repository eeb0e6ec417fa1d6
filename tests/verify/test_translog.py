"""RFC 9162 inclusion proofs: the verifier's transcription of §2.1.3.2 against a reference
tree built from the RFC's recursive definitions, for every leaf of every tree up to 70 leaves,
and against the service's own log arithmetic (``signing.translog``)."""

from __future__ import annotations

import hashlib

import pytest

from signing.verify.merkle import leaf_hash_of, verify_inclusion_path
from tests.verify import merkle_ref


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash_of(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def test_every_leaf_of_every_tree_up_to_70() -> None:
    for n in range(1, 71):
        leaves = _leaves(n)
        root = merkle_ref.mth(leaves)
        for m in range(n):
            path = merkle_ref.path(m, leaves)
            assert verify_inclusion_path(m, n, leaves[m], path, root), (m, n)
            # wrong leaf, altered path, truncated and extended path (a wrong tree size alone
            # may share the path's shape: the STH signature binds size and root together)
            assert not verify_inclusion_path(m, n, leaves[(m + 1) % n], path, root) or n == 1
            if path:
                bad = [*path]
                bad[-1] = hashlib.sha256(bad[-1]).digest()
                assert not verify_inclusion_path(m, n, leaves[m], bad, root)
                assert not verify_inclusion_path(m, n, leaves[m], path[:-1], root)
            assert not verify_inclusion_path(m, n, leaves[m], [*path, root], root)
            if n > 1:
                other = (m + 1) % n
                assert not verify_inclusion_path(other, n, leaves[m], path, root)


def test_out_of_range() -> None:
    leaves = _leaves(4)
    root = merkle_ref.mth(leaves)
    assert not verify_inclusion_path(4, 4, leaves[0], merkle_ref.path(0, leaves), root)
    assert not verify_inclusion_path(-1, 4, leaves[0], merkle_ref.path(0, leaves), root)


def test_agrees_with_the_service_log() -> None:
    translog = pytest.importorskip("signing.translog")
    for n in (1, 2, 3, 7, 8, 9, 31, 64, 100):
        leaves = _leaves(n)
        root = translog.merkle_root(leaves)
        assert root == merkle_ref.mth(leaves)
        for m in range(0, n, max(1, n // 7)):
            path = translog.inclusion_path(leaves, m)
            assert verify_inclusion_path(m, n, leaves[m], path, root)
