"""Is this item the same story as that one? Near-duplicate detection. Pure.

An ISPR release reappears within the hour at APP, Dawn and a dozen sites: verbatim, under
a new headline, with its first paragraph trimmed or a site's chrome around it. Two
different releases from one office on one day share a dateline and boilerplate but not
their substance. So an item's main text is reduced to word shingles, summarised by a
MinHash (``monitor.minhash``), and two items are one story when one text is mostly *contained*
in the other (containment, not Jaccard: a trimmed or padded copy is still a copy).

A near-complete containment is a copy whatever the headline. Below that, in the grey zone,
two texts can share a long paragraph (a standard closing statement) and still report
different things; there the titles must share at least one word. A rewritten headline
keeps who or where (``Kayani visits Peshawar corps HQ``); different news does not. When a
text is too short to compare, the titles alone decide.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monitor.minhash import signature

NUM_PERM = 128
SHINGLE = 4
SEED = 8

# Thresholds, tuned on bench/bench_clustering.py's labelled set (see its output).
COPY = 0.8  # this share of the smaller text's shingles found in the other: a copy
CONTAINED = 0.45  # from this share up: the same story if the titles share a word
TITLE_SIMILAR = 0.8  # for texts too short to compare
MIN_SHINGLES = 8  # fewer than this and the text says too little: titles decide

_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an and are as at be by for from has have he in is it its of on or that the their they this to "
    "was were will with".split())


@dataclass(frozen=True, kw_only=True)
class Fingerprint:
    """What is kept of an item to compare it later: a MinHash of its text's shingles,
    how many shingles there were, and its title's words."""

    signature: bytes
    shingles: int
    title_words: frozenset[str]


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def title_words(title: str) -> frozenset[str]:
    return frozenset(w for w in words(title) if w not in _STOP)


def fingerprint(*, title: str, text: str, of_text: tuple[bytes, int] | None = None) -> Fingerprint:
    """``of_text``: ``text_signature(text)`` when it was computed already (in a worker process)."""
    signature_bytes, shingles = of_text if of_text is not None else text_signature(text)
    return Fingerprint(signature=signature_bytes, shingles=shingles, title_words=title_words(title))


def text_signature(text: str) -> tuple[bytes, int]:
    """The text half of a fingerprint, the costly half: its MinHash and its shingle count."""
    tokens = words(text)
    shingles = {" ".join(tokens[i:i + SHINGLE]) for i in range(max(len(tokens) - SHINGLE + 1, 0))}
    hashes = signature((s.encode("utf-8") for s in shingles), num_perm=NUM_PERM, seed=SEED)
    return hashes.astype("<u4").tobytes(), len(shingles)


def title_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated share of the smaller text's shingles found in the other."""
    return float(containments(a, stack([b.signature]), np.asarray([b.shingles]))[0])


def stack(signatures: Sequence[bytes]) -> np.ndarray:
    """Stored signatures as one matrix, a row each, for ``containments``."""
    return np.frombuffer(b"".join(signatures), dtype="<u4").reshape(len(signatures), NUM_PERM)


def containments(item: Fingerprint, theirs: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``containment`` of ``item`` against many fingerprints at once: their signatures as
    the rows of ``theirs`` (see ``stack``), their shingle counts in ``sizes``."""
    if not len(theirs):
        return np.zeros(0)
    mine = np.frombuffer(item.signature, dtype="<u4")
    # Counted in int32, then divided once: mean() of the booleans, summed as floats, was ~1.5x slower.
    jaccard = (theirs == mine).sum(axis=1, dtype=np.int32) / theirs.shape[1]
    counts = np.asarray(sizes, dtype=float)
    smaller = np.maximum(np.minimum(counts, item.shingles), 1)
    shared = jaccard * (counts + item.shingles) / (1 + jaccard)
    result: np.ndarray = np.clip(shared / smaller, 0.0, 1.0)
    result[(counts == 0) | (item.shingles == 0)] = 0.0
    return result


def titles_decide(a_shingles: int, b_shingles: int) -> bool:
    """Whether one of two texts is too short to compare, so their titles decide."""
    return min(a_shingles, b_shingles) < MIN_SHINGLES


def same_story(a: Fingerprint, b: Fingerprint, *, contained: float | None = None) -> bool:
    """The decision, given two fingerprints (and their containment, if already computed)."""
    if titles_decide(a.shingles, b.shingles):
        titles = title_similarity(a.title_words, b.title_words)
        return len(a.title_words | b.title_words) >= 3 and titles >= TITLE_SIMILAR
    share = containment(a, b) if contained is None else contained
    if share >= COPY:
        return True
    return share >= CONTAINED and bool(a.title_words & b.title_words)
