"""MinHash signatures of shingle sets, in the one scheme our stored fingerprints use. Pure.

Why not datasketch at run time: its package imports scipy (for LSH tuning we do not
use), which cost the daemon ~55 MB of memory and ~0.8 s of start-up for a 20-line
computation. And why a scheme of our own: datasketch 2.0 changed its default scheme, so
the same text got another signature depending on the installed version, and fingerprints
stored before an upgrade would silently stop matching new ones. This is datasketch's
documented ``affine32`` scheme (SHA-1's first 4 bytes, the MurmurHash3 finalizer, then
``a*h + b`` modulo 2**32 with odd ``a``, the ``a`` and ``b`` drawn from numpy's
``RandomState(seed)``); ``tests/test_stories.py`` holds datasketch's values to check it by.

Why not numpy: importing it cost every process that computes or compares signatures
15 MB of memory, a sixth of what the daemon may use at 10,000 sources. Python's integers
do the arithmetic for all permutations at once instead: each permutation is a 64-bit
field of one integer (``_packed``), so one multiply and one add permute a shingle's hash
for all of them, and a few masks keep the least value of each field. 0.9 ms for 500
shingles where numpy took 0.4 (and less than numpy's 0.16 ms for 50), mostly in the page
workers, which spend more than that on extracting the page.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Iterable
from functools import cache

_LOW32 = 0xFFFFFFFF
_FIELD = 64  # bits a permutation's field takes: its 32-bit value and room for a*h+b


def _mt19937(seed: int) -> random.Random:
    """A Mersenne Twister seeded as numpy's ``RandomState(seed)`` is (MT19937's own
    ``init_genrand``; Python's ``seed()`` seeds by another routine), so that its 32-bit
    draws are numpy's."""
    state = [seed & _LOW32]
    for index in range(1, 624):
        state.append((1812433253 * (state[-1] ^ (state[-1] >> 30)) + index) & _LOW32)
    generator = random.Random()
    generator.setstate((3, (*state, 624), None))
    return generator


@cache
def _permutations(num_perm: int, seed: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ``a`` (odd) and ``b`` of each of ``num_perm`` affine permutations, fixed by
    ``seed``: numpy's ``randint(0, 2**31)`` and ``randint(0, 2**32)`` (uint32) draw one
    32-bit value each, the first masked to 31 bits."""
    if not 0 <= seed < 2**32:
        raise ValueError(f"a seed of 32 bits, as numpy's RandomState takes: {seed}")
    generator = _mt19937(seed)
    a = tuple((generator.getrandbits(32) & 0x7FFFFFFF) * 2 + 1 for _ in range(num_perm))
    b = tuple(generator.getrandbits(32) for _ in range(num_perm))
    return a, b


def _fields(values: Iterable[int]) -> int:
    """``values`` as the 64-bit fields of one integer, the first in the lowest bits."""
    return sum(value << (_FIELD * index) for index, value in enumerate(values))


@cache
def _packed(num_perm: int, seed: int) -> tuple[int, int, int, int]:
    """The permutations' ``a`` and ``b`` as fields, and the masks of each field's value
    bits and of the carry bit just above them."""
    a, b = _permutations(num_perm, seed)
    ones = _fields([1] * num_perm)
    return _fields(a), _fields(b), ones * _LOW32, ones << 32


def _finalised(digests: list[bytes]) -> list[int]:
    """MurmurHash3's 32-bit finalizer, which spreads weak input hashes before the
    permutations, of each 4-byte hash: all of them at once, as the 64-bit fields of one
    integer (masked after each step, so that no field spills into the next)."""
    count = len(digests)
    fields = int.from_bytes(b"\0\0\0\0".join(digests) + b"\0\0\0\0", "little")
    low = int.from_bytes(b"\xff\xff\xff\xff\0\0\0\0" * count, "little")
    fields = (fields ^ (fields >> 16)) & low
    fields = (fields * 0x85EBCA6B) & low
    fields = (fields ^ (fields >> 13)) & low
    fields = (fields * 0xC2B2AE35) & low
    fields = (fields ^ (fields >> 16)) & low
    return list(struct.unpack(f"<{2 * count}I", fields.to_bytes(8 * count, "little"))[::2])


def signature(shingles: Iterable[bytes], *, num_perm: int, seed: int) -> bytes:
    """The MinHash of a set, as stored: per permutation, the least permuted hash of any
    member (all ones for an empty set), as ``num_perm`` little-endian 32-bit values. Two
    sets' signatures agree in a share of places that estimates their Jaccard similarity."""
    a, b, values, carry = _packed(num_perm, seed)
    least = values | carry  # every value all ones (an empty set's), and each field's carry bit set above it
    digests = [hashlib.sha1(shingle).digest()[:4] for shingle in shingles]
    for hashed in _finalised(digests):
        permuted = (hashed * a + b) & values  # a*h + b, modulo 2**32 in each field
        # Per field: least + 2**32 - permuted keeps the carry bit where least >= permuted ...
        lower = (least - permuted) & carry
        # ... and there the permuted hash is the new least (the mask: 32 ones below each such bit).
        least ^= (least ^ permuted) & (lower - (lower >> 32))
    fields = struct.unpack(f"<{2 * num_perm}I", least.to_bytes(8 * num_perm, "little"))
    return struct.pack(f"<{num_perm}I", *fields[::2])


def agreements(a: bytes, b: bytes) -> int:
    """In how many places two stored signatures agree."""
    count = len(a) // 4
    return sum(x == y for x, y in zip(struct.unpack(f"<{count}I", a), struct.unpack(f"<{count}I", b), strict=True))
