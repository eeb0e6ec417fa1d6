"""RFC 9162 Merkle math: roots, inclusion and consistency proofs, with and without the cache."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.translog import (
    EMPTY_ROOT,
    LogProofError,
    MerkleTree,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)


def brute_root(leaves: Sequence[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it (recursive split at the largest power of 2)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + brute_root(leaves[:k]) + brute_root(leaves[k:])).digest()


def leaves_of(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


class DictCache:
    """A NodeCache in memory that counts its traffic."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.puts = 0

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        return {k: self.nodes[k] for k in keys if k in self.nodes}

    def put_nodes(self, nodes: Mapping[tuple[int, int], bytes]) -> None:
        self.puts += len(nodes)
        self.nodes.update(nodes)


# Test vectors of the Certificate Transparency reference implementations (leaf inputs and the
# roots of the trees of their first 1..8 leaves).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_reference_vectors() -> None:
    hashes = [leaf_hash(x) for x in CT_LEAVES]
    for n in range(1, 9):
        assert merkle_root(hashes[:n]).hex() == CT_ROOTS[n - 1]
        assert MerkleTree(hashes).root(n).hex() == CT_ROOTS[n - 1]
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert leaf_hash(b"") != node_hash(b"", b"")  # domain separation


@pytest.mark.parametrize("cache_level", [None, 0, 1, 2])
def test_inclusion_proofs_for_every_leaf_of_trees_1_to_33(cache_level: int | None) -> None:
    all_leaves = leaves_of(33)
    cache = DictCache() if cache_level is not None else None
    tree = MerkleTree(all_leaves, cache=cache, cache_level=cache_level or 0)
    for n in range(1, 34):
        root = tree.root(n)
        assert root == brute_root(all_leaves[:n]) == merkle_root(all_leaves[:n])
        for m in range(n):
            path = tree.inclusion_path(m, n)
            assert verify_inclusion(m, n, all_leaves[m], path, root), (m, n)
            # Every alteration is caught: another leaf, index, size, root or path.
            assert not verify_inclusion(m, n, all_leaves[(m + 1) % 33], path, root)
            if n > 1:
                assert not verify_inclusion((m + 1) % n, n, all_leaves[m], path, root)
                bad = list(path)
                bad[len(bad) // 2] = hashlib.sha256(bad[len(bad) // 2]).digest()
                assert not verify_inclusion(m, n, all_leaves[m], bad, root)
                assert not verify_inclusion(m, n, all_leaves[m], path[:-1], root)
                assert not verify_inclusion(m, n, all_leaves[m], [*path, root], root)
            assert not verify_inclusion(m, n, all_leaves[m], path, hashlib.sha256(root).digest())
        with pytest.raises(LogProofError):
            tree.inclusion_path(n, n)


@pytest.mark.parametrize("cache_level", [None, 1])
def test_consistency_proofs_between_any_two_sizes(cache_level: int | None) -> None:
    all_leaves = leaves_of(33)
    tree = MerkleTree(
        all_leaves,
        cache=DictCache() if cache_level is not None else None,
        cache_level=cache_level or 0,
    )
    roots = {n: brute_root(all_leaves[:n]) for n in range(1, 34)}
    for n in range(1, 34):
        for m in range(1, n + 1):
            path = tree.consistency_path(m, n)
            assert verify_consistency(m, n, roots[m], roots[n], path), (m, n)
            if m < n:
                assert not verify_consistency(m, n, roots[n], roots[n], path)
                assert not verify_consistency(m, n, roots[m], roots[m], path)
                if path:
                    assert not verify_consistency(m, n, roots[m], roots[n], path[:-1])
                    bad = [hashlib.sha256(path[0]).digest(), *path[1:]]
                    assert not verify_consistency(m, n, roots[m], roots[n], bad)
            else:
                assert path == []
    # A tree that rewrote an early leaf is not an extension of the old one.
    forged = list(all_leaves)
    forged[3] = leaf_hash(b"rewritten")
    forged_tree = MerkleTree(forged)
    for m in range(4, 33):
        path = forged_tree.consistency_path(m, 33)
        assert not verify_consistency(m, 33, roots[m], forged_tree.root(33), path)
    with pytest.raises(LogProofError):
        tree.consistency_path(0, 5)
    with pytest.raises(LogProofError):
        tree.consistency_path(6, 5)


def test_cache_is_filled_once_and_matches_plain_computation() -> None:
    leaves = leaves_of(1000)
    cache = DictCache()
    tree = MerkleTree(leaves, cache=cache, cache_level=3)
    plain = MerkleTree(leaves, cache_level=3)
    assert tree.root(1000) == merkle_root(leaves) == plain.root(1000)
    puts = cache.puts
    assert puts > 0
    # A fresh tree on the same cache recomputes nothing it has already stored.
    again = MerkleTree(leaves, cache=cache, cache_level=3)
    assert again.root(1000) == merkle_root(leaves)
    for m in (0, 7, 8, 511, 512, 999):
        assert again.inclusion_path(m, 1000) == plain.inclusion_path(m, 1000)
    assert again.consistency_path(300, 1000) == plain.consistency_path(300, 1000)
    for key, value in cache.nodes.items():
        level, index = key
        width = 1 << level
        assert value == merkle_root(leaves[index * width : (index + 1) * width])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_random_sizes(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    tree = MerkleTree(leaves, cache=DictCache(), cache_level=2)
    root = tree.root(n)
    assert root == brute_root(leaves)
    m = data.draw(st.integers(0, n - 1))
    assert verify_inclusion(m, n, leaves[m], tree.inclusion_path(m, n), root)
    first = data.draw(st.integers(1, n))
    path = tree.consistency_path(first, n)
    assert verify_consistency(first, n, brute_root(leaves[:first]), root, path)
