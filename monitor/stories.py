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
from dataclasses import dataclass

from monitor.minhash import agreements, signature

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
    return signature((s.encode("utf-8") for s in shingles), num_perm=NUM_PERM, seed=SEED), len(shingles)


def title_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated share of the smaller text's shingles found in the other."""
    return share(agreements(a.signature, b.signature), a.shingles, b.shingles)


def share(agree: int, a_shingles: int, b_shingles: int) -> float:
    """``containment`` from the places two signatures agree in (``agree`` of NUM_PERM) and
    the two texts' shingle counts: the agreement estimates their Jaccard similarity J, and
    J * (|A| + |B|) / (1 + J) the shingles they share."""
    if not a_shingles or not b_shingles:
        return 0.0
    jaccard = agree / NUM_PERM
    shared = jaccard * (b_shingles + a_shingles) / (1 + jaccard)
    return min(max(shared / max(min(b_shingles, a_shingles), 1), 0.0), 1.0)


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
