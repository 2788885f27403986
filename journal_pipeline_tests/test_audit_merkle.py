"""RFC 6962 Merkle trees and inclusion proofs: Certificate Transparency vectors and a reference."""

from __future__ import annotations

import hashlib

import pytest

from journal_pipeline.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    root_from_inclusion_proof,
    verify_inclusion,
)

# The leaf inputs of the Certificate Transparency reference implementation's Merkle tree tests
# (certificate-transparency, merkletree/merkle_tree_test.cc), and the root of the tree over the
# first n of them, for n = 0..8.
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
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path) from the same tests.
CT_PATHS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, transcribed literally (recursive, over the leaf *inputs*)."""
    n = len(leaves)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _sha(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:]))


def reference_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 PATH(m, D[n]), transcribed literally."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_root(leaves[:k])]


def test_certificate_transparency_roots_for_every_size_from_0_to_8():
    hashes = [leaf_hash(leaf) for leaf in CT_LEAVES]
    assert [merkle_root(hashes[:n]).hex() for n in range(9)] == CT_ROOTS
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_certificate_transparency_inclusion_proofs(index, size, path):
    hashes = [leaf_hash(leaf) for leaf in CT_LEAVES[:size]]
    assert [node.hex() for node in inclusion_proof(hashes, index)] == path
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_inclusion(hashes[index], index, size, [bytes.fromhex(p) for p in path], root)


def test_a_hand_computed_three_leaf_tree():
    a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert a == hashlib.sha256(b"\x00a").digest()
    expected = hashlib.sha256(b"\x01" + hashlib.sha256(b"\x01" + a + b).digest() + c).digest()
    assert merkle_root([a, b, c]) == expected
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert inclusion_proof([a, b, c], 2) == [node_hash(a, b)]
    assert inclusion_proof([a, b, c], 0) == [b, c]


def test_bottom_up_tree_equals_the_recursive_definition_for_every_size_up_to_70():
    inputs = [f"line {i}".encode() for i in range(70)]
    hashes = [leaf_hash(x) for x in inputs]
    for n in range(71):
        tree = MerkleTree(hashes[:n])
        assert tree.root == reference_root(inputs[:n]), n
        for m in range(n):
            path = tree.inclusion_proof(m)
            assert path == reference_path(m, inputs[:n]), (m, n)
            assert verify_inclusion(hashes[m], m, n, path, tree.root)


def test_a_proof_fails_for_another_leaf_index_size_path_or_root():
    hashes = [leaf_hash(f"{i}".encode()) for i in range(11)]
    tree = MerkleTree(hashes)
    path = tree.inclusion_proof(6)
    assert verify_inclusion(hashes[6], 6, 11, path, tree.root)
    assert not verify_inclusion(hashes[5], 6, 11, path, tree.root)  # another leaf
    assert not verify_inclusion(hashes[6], 7, 11, path, tree.root)  # another position
    last = tree.inclusion_proof(10)  # the size matters where the last leaf has no partner
    assert verify_inclusion(hashes[10], 10, 11, last, tree.root)
    assert not verify_inclusion(hashes[10], 10, 12, last, tree.root)  # another size
    assert not verify_inclusion(hashes[6], 6, 11, path[:-1], tree.root)  # truncated path
    assert not verify_inclusion(hashes[6], 6, 11, [*path, path[0]], tree.root)  # padded path
    assert not verify_inclusion(hashes[6], 6, 11, path, EMPTY_ROOT)  # another root
    assert root_from_inclusion_proof(hashes[6], 11, 11, path) is None  # index outside the tree


def test_leaf_and_node_prefixes_keep_a_leaf_from_passing_for_a_node():
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    # A two-leaf tree's root is not the leaf hash of the concatenated children (second preimage).
    assert merkle_root([a, b]) != leaf_hash(a + b)


def test_stored_hashes_round_trip_and_bad_sizes_are_refused():
    hashes = [leaf_hash(bytes([i])) for i in range(5)]
    assert MerkleTree.from_concatenated(b"".join(hashes)).root == merkle_root(hashes)
    with pytest.raises(ValueError, match="not a whole number of 32-byte hashes"):
        MerkleTree.from_concatenated(b"\x00" * 33)
    with pytest.raises(ValueError, match="leaf hash 0 is 31 bytes"):
        MerkleTree([b"\x00" * 31])
    with pytest.raises(IndexError, match="outside a tree of 5 leaves"):
        MerkleTree(hashes).inclusion_proof(5)
