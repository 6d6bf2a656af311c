"""A port of OpenZeppelin's ``StandardMerkleTree`` (npm ``@openzeppelin/merkle-tree`` 1.x).

Leaves are ``keccak256(keccak256(abi.encode(leaf_encoding, value)))``; internal nodes hash the
sorted pair of their children; leaves are sorted by hash and laid out in a complete binary tree
stored as an array (root at index 0), exactly as the JavaScript library does, so roots, proofs
and ``dump()`` files are interchangeable with it and with OpenZeppelin's ``MerkleProof``::

    tree = StandardMerkleTree.of([[record_id, contributor], ...], ["bytes32", "address"])
    value = [record_id, contributor]
    proof = tree.proof(value)
    ok = StandardMerkleTree.verify(tree.root, ["bytes32", "address"], value, proof)

The Fairwheel leaves are ``(bytes32 recordId, address contributor)`` for contribution batches
(see :data:`CONTRIBUTION_ENCODING`) and ``(address account, uint256 cumulativeAmount)`` for epoch
earnings (see :data:`EARNINGS_ENCODING`).

Pure: imports only the standard library, ``eth_abi``/``eth_utils`` and the project's errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fairwheel.errors import VerificationError

__all__ = [
    "CONTRIBUTION_ENCODING",
    "EARNINGS_ENCODING",
    "StandardMerkleTree",
    "keccak256",
    "process_proof",
    "standard_leaf_hash",
    "standard_node_hash",
]

#: Leaf encoding of a contribution batch (PoolRegistry): ``(recordId, contributor)``.
CONTRIBUTION_ENCODING: tuple[str, ...] = ("bytes32", "address")
#: Leaf encoding of an epoch's cumulative earnings (RewardDistributor): ``(account, amount)``.
EARNINGS_ENCODING: tuple[str, ...] = ("address", "uint256")

FORMAT = "standard-v1"


def _pick_keccak() -> Callable[[bytes], bytes]:
    try:  # safe-pysha3 (an optional eth-hash backend) is ~6x faster than the generic path
        from sha3 import keccak_256  # type: ignore[import-not-found,unused-ignore]

        def fast(data: bytes) -> bytes:
            return bytes(keccak_256(data).digest())

        fast(b"")
        return fast
    except Exception:  # pragma: no cover - depends on the environment
        from eth_utils import keccak as eth_keccak

        def generic(data: bytes) -> bytes:
            return bytes(eth_keccak(data))

        return generic


keccak256: Callable[[bytes], bytes] = _pick_keccak()

_UINT = re.compile(r"^uint(\d*)$")
_INT = re.compile(r"^int(\d*)$")
_BYTES_N = re.compile(r"^bytes(\d+)$")
_ARRAY = re.compile(r"^(.+)\[(\d*)\]$")
_HEX = re.compile(r"^0x[0-9a-fA-F]*$")


def _to_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str) and _HEX.match(value) and len(value) % 2 == 0:
        return bytes.fromhex(value[2:])
    raise ValueError(f"{what}: expected bytes or a 0x-prefixed hex string, got {value!r}")


def _to_int(value: Any, typ: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{typ}: expected an integer, got a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    raise ValueError(f"{typ}: expected an integer, got {value!r}")


def _bits(match: re.Match[str], typ: str) -> int:
    bits = int(match.group(1) or 256)
    if bits % 8 or not 8 <= bits <= 256:
        raise ValueError(f"invalid type {typ}")
    return bits


def _static_word(typ: str, value: Any) -> bytes | None:
    """The 32-byte ABI word of a static elementary value, or ``None`` if ``typ`` is not one."""
    if typ == "address":
        raw = _to_bytes(value, "address")
        if len(raw) != 20:
            raise ValueError(f"address: expected 20 bytes, got {value!r}")
        return b"\x00" * 12 + raw
    if typ == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"bool: expected True or False, got {value!r}")
        return (1 if value else 0).to_bytes(32, "big")
    m = _UINT.match(typ)
    if m:
        bits, n = _bits(m, typ), _to_int(value, typ)
        if not 0 <= n < 1 << bits:
            raise ValueError(f"{typ}: {n} out of range")
        return n.to_bytes(32, "big")
    m = _INT.match(typ)
    if m:
        bits, n = _bits(m, typ), _to_int(value, typ)
        if not -(1 << (bits - 1)) <= n < 1 << (bits - 1):
            raise ValueError(f"{typ}: {n} out of range")
        return n.to_bytes(32, "big", signed=True)
    m = _BYTES_N.match(typ)
    if m:
        size = int(m.group(1))
        if not 1 <= size <= 32:
            raise ValueError(f"invalid type {typ}")
        raw = _to_bytes(value, typ)
        if len(raw) != size:
            raise ValueError(f"{typ}: expected {size} bytes, got {len(raw)}")
        return raw.ljust(32, b"\x00")
    return None


def _normalize(typ: str, value: Any) -> Any:
    """Convert JSON-friendly values (hex strings, decimal strings) to what ``eth_abi`` wants."""
    m = _ARRAY.match(typ)
    if m:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{typ}: expected a list, got {value!r}")
        return [_normalize(m.group(1), v) for v in value]
    if typ == "bytes":
        return _to_bytes(value, typ)
    if typ == "address":
        from eth_utils import to_checksum_address

        return to_checksum_address(_to_bytes(value, typ))
    if _UINT.match(typ) or _INT.match(typ):
        return _to_int(value, typ)
    if _BYTES_N.match(typ):
        return _to_bytes(value, typ)
    return value


def _abi_encode(leaf_encoding: Sequence[str], value: Sequence[Any]) -> bytes:
    if isinstance(value, str | bytes) or len(value) != len(leaf_encoding):
        raise ValueError(
            f"expected {len(leaf_encoding)} fields {list(leaf_encoding)}, got {value!r}"
        )
    words: list[bytes] = []
    for typ, field in zip(leaf_encoding, value, strict=True):
        word = _static_word(typ, field)
        if word is None:  # dynamic or composite type: let eth_abi do it
            from eth_abi import encode

            normalized = [_normalize(t, v) for t, v in zip(leaf_encoding, value, strict=True)]
            return bytes(encode(list(leaf_encoding), normalized))
        words.append(word)
    return b"".join(words)


def standard_leaf_hash(leaf_encoding: Sequence[str], value: Sequence[Any]) -> bytes:
    """``keccak256(keccak256(abi.encode(leaf_encoding, value)))``.

    Args:
        leaf_encoding: Solidity types of the leaf's fields, e.g. ``["address", "uint256"]``.
        value: The fields; integers may be ints or decimal/hex strings, bytes may be hex strings.

    Returns:
        The 32-byte leaf hash.

    Raises:
        ValueError: If the value does not match the encoding.
    """
    return keccak256(keccak256(_abi_encode(leaf_encoding, value)))


def standard_node_hash(a: bytes, b: bytes) -> bytes:
    """Hash of two sibling nodes: ``keccak256(min(a, b) ++ max(a, b))``."""
    return keccak256(a + b) if a <= b else keccak256(b + a)


def _node(value: Any) -> bytes:
    node = _to_bytes(value, "merkle node")
    if len(node) != 32:
        raise ValueError(f"merkle nodes must be 32 bytes, got {len(node)}")
    return node


def process_proof(leaf: bytes, proof: Sequence[bytes | str]) -> bytes:
    """Fold a proof into the root it implies (OpenZeppelin ``MerkleProof.processProof``)."""
    node = _node(leaf)
    for sibling in proof:
        node = standard_node_hash(node, _node(sibling))
    return node


def _json_value(typ: str, value: Any) -> Any:
    """The JSON form of one field in a dump: ints as decimal strings, bytes as 0x-hex."""
    m = _ARRAY.match(typ)
    if m and isinstance(value, list | tuple):
        return [_json_value(m.group(1), v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    return value


class StandardMerkleTree:
    """An OpenZeppelin-compatible standard Merkle tree over ABI-encoded values.

    Build one with :meth:`of` or :meth:`load`. ``values`` keep the caller's order; proofs can be
    asked by value or by that index.
    """

    def __init__(
        self,
        tree: Sequence[bytes],
        values: Sequence[Sequence[Any]],
        tree_indices: Sequence[int],
        leaf_encoding: Sequence[str],
    ) -> None:
        """Wrap an already built tree; use :meth:`of` or :meth:`load` instead."""
        self._tree: list[bytes] = list(tree)
        self._values: list[tuple[Any, ...]] = [tuple(v) for v in values]
        self._tree_indices: list[int] = list(tree_indices)
        self.leaf_encoding: tuple[str, ...] = tuple(leaf_encoding)
        self._lookup: dict[bytes, int] = {}
        for value_index, tree_index in enumerate(self._tree_indices):
            self._lookup[self._tree[tree_index]] = value_index  # last wins, as in the JS library

    # ------------------------------------------------------------ construction

    @classmethod
    def of(
        cls, values: Sequence[Sequence[Any]], leaf_encoding: Sequence[str]
    ) -> StandardMerkleTree:
        """Build the tree of ``values`` (sorted-leaf layout, as OpenZeppelin's ``of``).

        Args:
            values: One sequence of fields per leaf.
            leaf_encoding: Solidity types of the fields.

        Returns:
            The tree.

        Raises:
            ValueError: If ``values`` is empty or a value does not match the encoding.
        """
        encoding = tuple(leaf_encoding)
        if not encoding:
            raise ValueError("leaf encoding must name at least one type")
        if len(values) == 0:
            raise ValueError("expected a non-zero number of leaves")
        hashes = [standard_leaf_hash(encoding, v) for v in values]
        order = sorted(range(len(hashes)), key=hashes.__getitem__)  # stable, like Array.sort
        n = len(hashes)
        size = 2 * n - 1
        tree: list[bytes] = [b""] * size
        tree_indices = [0] * n
        for leaf_index, value_index in enumerate(order):
            tree[size - 1 - leaf_index] = hashes[value_index]
            tree_indices[value_index] = size - 1 - leaf_index
        for i in range(size - 1 - n, -1, -1):
            tree[i] = standard_node_hash(tree[2 * i + 1], tree[2 * i + 2])
        return cls(tree, values, tree_indices, encoding)

    @classmethod
    def load(cls, data: dict[str, Any]) -> StandardMerkleTree:
        """Load a ``dump()`` (also one written by the JavaScript library) and validate it.

        Raises:
            ValueError: If the format is unknown or the data is malformed.
            VerificationError: If the tree's hashes do not check out.
        """
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        encoding = data.get("leafEncoding")
        if not isinstance(encoding, list) or not encoding:
            raise ValueError("expected a leaf encoding")
        tree = [_node(node) for node in data.get("tree", [])]
        entries = data.get("values", [])
        if not tree or not entries:
            raise ValueError("expected a non-zero number of leaves")
        values = [entry["value"] for entry in entries]
        indices = [int(entry["treeIndex"]) for entry in entries]
        loaded = cls(tree, values, indices, encoding)
        loaded.validate()
        return loaded

    def dump(self) -> dict[str, Any]:
        """The tree as JSON-ready data in OpenZeppelin's ``standard-v1`` format."""
        return {
            "format": FORMAT,
            "leafEncoding": list(self.leaf_encoding),
            "tree": ["0x" + node.hex() for node in self._tree],
            "values": [
                {
                    "value": [
                        _json_value(t, v) for t, v in zip(self.leaf_encoding, value, strict=True)
                    ],
                    "treeIndex": tree_index,
                }
                for value, tree_index in zip(self._values, self._tree_indices, strict=True)
            ],
        }

    def validate(self) -> None:
        """Check every value's leaf and every internal node.

        Raises:
            VerificationError: If anything does not check out.
        """
        size = len(self._tree)
        for i, (value, tree_index) in enumerate(zip(self._values, self._tree_indices, strict=True)):
            if not 0 <= tree_index < size or 2 * tree_index + 1 < size:
                raise VerificationError(f"value {i} does not point at a leaf", index=i)
            if self._tree[tree_index] != self.leaf_hash(value):
                raise VerificationError(f"value {i} does not match its leaf", index=i)
        for i in range(size):
            left = 2 * i + 1
            if left >= size:
                break
            if left + 1 >= size or self._tree[i] != standard_node_hash(
                self._tree[left], self._tree[left + 1]
            ):
                raise VerificationError("merkle tree is invalid", node=i)

    # ----------------------------------------------------------------- queries

    @property
    def root(self) -> bytes:
        """The 32-byte root."""
        return self._tree[0]

    @property
    def root_hex(self) -> str:
        """The root as a 0x-prefixed hex string."""
        return "0x" + self._tree[0].hex()

    @property
    def values(self) -> list[tuple[Any, ...]]:
        """The values in the order they were given."""
        return list(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def at(self, index: int) -> tuple[Any, ...]:
        """The value at ``index`` (caller's order)."""
        return self._values[index]

    def entries(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """Iterate over ``(index, value)`` pairs."""
        yield from enumerate(self._values)

    def leaf_hash(self, value: Sequence[Any]) -> bytes:
        """The leaf hash of ``value`` under this tree's encoding."""
        return standard_leaf_hash(self.leaf_encoding, value)

    def index_of(self, value: Sequence[Any]) -> int:
        """The index of ``value`` (the last one if it appears twice, as in the JS library).

        Raises:
            ValueError: If the value is not in the tree.
        """
        index = self._lookup.get(self.leaf_hash(value))
        if index is None:
            raise ValueError("leaf is not in tree")
        return index

    def proof(self, value_or_index: Sequence[Any] | int) -> list[bytes]:
        """The sibling path from a leaf to the root (OpenZeppelin's ``getProof``).

        Args:
            value_or_index: A value, or its index in the caller's order.

        Returns:
            The proof, leaf level first, as 32-byte nodes.

        Raises:
            ValueError: If the value is not in the tree. IndexError for a bad index.
        """
        if isinstance(value_or_index, bool):
            raise TypeError("expected a value or an index, got a bool")
        if isinstance(value_or_index, int):
            if not 0 <= value_or_index < len(self._values):
                raise IndexError(f"index {value_or_index} out of bounds")
            index = value_or_index
        else:
            index = self.index_of(value_or_index)
        node = self._tree_indices[index]
        proof: list[bytes] = []
        while node > 0:
            proof.append(self._tree[node + 1 if node % 2 else node - 1])
            node = (node - 1) // 2
        return proof

    def proof_hex(self, value_or_index: Sequence[Any] | int) -> list[str]:
        """:meth:`proof` as 0x-prefixed hex strings (the JavaScript library's form)."""
        return ["0x" + node.hex() for node in self.proof(value_or_index)]

    @staticmethod
    def verify(
        root: bytes | str,
        leaf_encoding: Sequence[str],
        value: Sequence[Any],
        proof: Sequence[bytes | str],
    ) -> bool:
        """Whether ``proof`` shows ``value`` is a leaf of the tree with ``root``.

        Raises:
            ValueError: If the value does not match the encoding or a node is not 32 bytes.
        """
        return process_proof(standard_leaf_hash(leaf_encoding, value), proof) == _node(root)
