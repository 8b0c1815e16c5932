"""MinHash signatures of shingle sets, in the one scheme our stored fingerprints use. Pure.

Why not datasketch at run time: its package imports scipy (for LSH tuning we do not
use), which cost the daemon ~55 MB of memory and ~0.8 s of start-up for a 20-line
computation. And why a scheme of our own: datasketch 2.0 changed its default scheme, so
the same text got another signature depending on the installed version, and fingerprints
stored before an upgrade would silently stop matching new ones. This is datasketch's
documented ``affine32`` scheme (SHA-1's first 4 bytes, the MurmurHash3 finalizer, then
``a*h + b`` modulo 2**32 with odd ``a``); ``tests/test_stories.py`` checks it against
datasketch value for value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache

import numpy as np

_EMPTY = np.uint32(0xFFFFFFFF)


@cache
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``a`` (odd) and ``b`` of each of ``num_perm`` affine permutations, fixed by ``seed``."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _finalise(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer: spreads weak input hashes before the permutations."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    mixed: np.ndarray = values ^ (values >> np.uint32(16))
    return mixed


def signature(shingles: Iterable[bytes], *, num_perm: int, seed: int) -> np.ndarray:
    """The MinHash of a set: per permutation, the least permuted hash of any member
    (all ones for an empty set). Two sets' signatures agree in a share of places that
    estimates their Jaccard similarity."""
    hashes = np.fromiter((int.from_bytes(hashlib.sha1(s).digest()[:4], "little") for s in shingles),
                         dtype=np.uint32)
    if not len(hashes):
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    a, b = _permutations(num_perm, seed)
    with np.errstate(over="ignore"):  # wrapping is the modulo 2**32 the scheme is defined by
        permuted = _finalise(hashes).reshape(-1, 1) * a + b
    result: np.ndarray = permuted.min(axis=0)
    return result
