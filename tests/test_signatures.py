"""The signature table and the pure-Python MinHash, against plain counts of the same things."""

from __future__ import annotations

import random
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import signatures
from monitor.minhash import agreements, signature
from monitor.signatures import SignatureTable


def _naive_agreements(rows: list[bytes], item: bytes) -> list[int]:
    return [sum(x == y for x, y in zip(struct.unpack(f"<{len(item) // 4}I", row),
                                        struct.unpack(f"<{len(item) // 4}I", item), strict=True)) for row in rows]


def _signature_like(rng: random.Random, base: bytes, places: int) -> bytes:
    """``base`` with each place kept or replaced at random (and a few values at the fields'
    edges: 0, 2**31, 2**32 - 1, where a carry between fields would show)."""
    values = list(struct.unpack(f"<{places}I", base))
    for index in range(places):
        roll = rng.random()
        if roll < 0.4:
            values[index] = rng.choice([0, 1, 2**31 - 1, 2**31, 2**32 - 1, rng.getrandbits(32)])
    return struct.pack(f"<{places}I", *values)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(0, 23), places=st.sampled_from([1, 3, 128, 300]))
def test_agreements_are_the_plain_count_of_equal_places(seed: int, count: int, places: int) -> None:
    """Through sealed blocks (of 5 rows here) and the open one, each row's count is the count
    a loop over its places gives, values at the fields' edges included."""
    rng = random.Random(seed)
    base = struct.pack(f"<{places}I", *(rng.getrandbits(32) for _ in range(places)))
    rows = [_signature_like(rng, base, places) for _ in range(count)]
    table = SignatureTable(places, block=5)
    for row in rows:
        table.append(row)
    item = _signature_like(rng, base, places)
    assert len(table) == count and table.sealed_blocks == count // 5
    assert table.agreements(item) == _naive_agreements(rows, item)
    if rows:
        assert table.agreements(rows[0])[0] == places  # a row agrees with itself everywhere


def test_appends_between_scans_are_seen_and_dropped_blocks_are_gone() -> None:
    rng = random.Random(7)
    rows = [struct.pack("<4I", *(rng.getrandbits(2) for _ in range(4))) for _ in range(12)]
    table = SignatureTable(4, block=4)
    seen: list[bytes] = []
    for row in rows:
        table.append(row)
        seen.append(row)
        assert table.agreements(rows[3]) == _naive_agreements(seen, rows[3])  # the open block rebuilt each time
    table.drop_first_block()
    assert len(table) == 8
    assert table.agreements(rows[0]) == _naive_agreements(rows[4:], rows[0])


def test_a_signature_of_another_size_is_refused() -> None:
    table = SignatureTable(4)
    with pytest.raises(ValueError, match="16 were expected"):
        table.append(b"\x00" * 12)


def test_the_default_block_is_what_a_table_seals() -> None:
    table = SignatureTable(2)
    for n in range(signatures.BLOCK + 1):
        table.append(struct.pack("<2I", n, 0))
    assert table.sealed_blocks == 1 and len(table) == signatures.BLOCK + 1
    assert table.agreements(struct.pack("<2I", 5, 0)).count(2) == 1


@settings(max_examples=40, deadline=None)
@given(members=st.sets(st.binary(max_size=12), max_size=40), num_perm=st.sampled_from([1, 4, 128]),
       seed=st.integers(0, 2**32 - 1))
def test_minhash_is_the_least_permuted_hash_in_each_place(members: set[bytes], num_perm: int, seed: int) -> None:
    """The packed arithmetic against the scheme's definition, one permutation at a time."""
    import hashlib

    from monitor.minhash import _permutations

    def finalise(value: int) -> int:  # MurmurHash3's fmix32
        value = ((value ^ (value >> 16)) * 0x85EBCA6B) % 2**32
        value = ((value ^ (value >> 13)) * 0xC2B2AE35) % 2**32
        return value ^ (value >> 16)

    a, b = _permutations(num_perm, seed)
    hashes = [finalise(int.from_bytes(hashlib.sha1(m).digest()[:4], "little")) for m in members]
    expected = [min(((x * h + y) % 2**32 for h in hashes), default=2**32 - 1) for x, y in zip(a, b, strict=True)]
    assert struct.unpack(f"<{num_perm}I", signature(members, num_perm=num_perm, seed=seed)) == tuple(expected)


def test_agreements_of_two_signatures() -> None:
    left, right = struct.pack("<3I", 1, 2, 3), struct.pack("<3I", 1, 5, 3)
    assert agreements(left, right) == 2 and agreements(left, left) == 3


def test_stories_that_left_the_window_are_forgotten_a_block_at_a_time(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A block is dropped once all of its stories are older than the window; until then its
    old stories stay in memory but never join an item."""
    from monitor.store import Store
    from monitor.store_stories import StoryIndex
    from monitor.stories import fingerprint

    monkeypatch.setattr(signatures, "BLOCK", 3)
    store = Store(tmp_path / "m.db")
    try:
        index = StoryIndex(store.db, window=timedelta(hours=72))
        start = datetime(2026, 12, 1, tzinfo=timezone.utc)
        text = " ".join(f"word{n}" for n in range(60))
        for hour in range(7):  # one story an hour, the same text each time: all would join the first
            index.refresh(start + timedelta(hours=hour))
            index._add(100 + hour, fingerprint(title=f"title{hour}", text=f"{text} {hour}"),
                       start + timedelta(hours=hour), source_id="s")
        assert len(index) == 7
        index.refresh(start + timedelta(hours=72, minutes=30))  # the first story (hour 0) left the window
        assert len(index) == 7  # its block holds stories still in it
        joinable = sorted(index._ids[row] for row, _ in index._candidates(fingerprint(title="x", text=text)))
        assert joinable == [101, 102, 103, 104, 105, 106]
        index.refresh(start + timedelta(hours=75, minutes=30))  # hours 0-3 gone: the first block (0-2) is dropped
        assert len(index) == 4
        rows = [row for row, _ in index._candidates(fingerprint(title="x", text=text))]
        assert sorted(index._ids[row] for row in rows) == [104, 105, 106]
        # Each row's other columns moved with it: its title is still its story's.
        assert all(index._titles[row] == (f"title{index._ids[row] - 100}",) for row in rows)
    finally:
        store.close()


def test_share_is_the_numpy_containment_float_for_float() -> None:
    """Every containment, for every agreement count and shingle counts at the edges, is the
    float the numpy version computed: sha256 of their reprs recorded from it (dc2e85c's
    ``stories.containments``), so no decision moves by an ulp."""
    import hashlib

    from monitor.stories import share

    sizes = (0, 1, 7, 8, 50, 300, 5000)
    shares = [repr(share(agree, a, b)) for agree in range(129) for a in sizes for b in sizes]
    assert hashlib.sha256(",".join(shares).encode()).hexdigest() == (
        "8fdb09773bae3ec33db7b662986f9085287915e2d37f0c16502b3ed17e9d1b67")
    assert share(128, 0, 10) == share(128, 10, 0) == 0.0  # a text without shingles contains nothing


def test_candidates_come_in_order_of_share_then_row(tmp_path: Path) -> None:
    """Equal shares keep the order the stories were filed in; a short story that agrees
    nowhere is still a candidate for a long item (its title decides), one agreeing
    nowhere and long enough is not."""
    from monitor.store import Store
    from monitor.store_stories import StoryIndex
    from monitor.stories import Fingerprint

    store = Store(tmp_path / "m.db")
    index = StoryIndex(store.db, window=timedelta(hours=72))
    try:
        now = datetime(2026, 12, 1, tzinfo=timezone.utc)
        index.refresh(now)
        same = struct.pack("<128I", *range(128))
        elsewhere = struct.pack("<128I", *range(1000, 1128))
        for story_id, signature, shingles in ((1, same, 100), (2, elsewhere, 100), (3, same, 100), (4, elsewhere, 3)):
            index._add(story_id, Fingerprint(signature=signature, shingles=shingles, title_words=frozenset({"x"})), now,
                       source_id="s")
        item = Fingerprint(signature=same, shingles=100, title_words=frozenset({"x"}))
        assert [(index._ids[row], round(share, 3)) for row, share in index._candidates(item)] == [
            (1, 1.0), (3, 1.0), (4, 0.0)]
    finally:
        store.close()


def test_a_seed_numpy_would_refuse_is_refused() -> None:
    """numpy's RandomState takes 32-bit seeds; a larger one must not be masked into another."""
    with pytest.raises(ValueError, match="32 bits"):
        signature([b"x"], num_perm=4, seed=2**32 + 8)
    with pytest.raises(ValueError, match="32 bits"):
        signature([b"x"], num_perm=4, seed=-1)


def test_a_story_whose_signature_is_refused_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    from monitor.store import Store
    from monitor.store_stories import StoryIndex
    from monitor.stories import Fingerprint

    store = Store(tmp_path / "m.db")
    try:
        index = StoryIndex(store.db, window=timedelta(hours=72))
        now = datetime(2026, 12, 1, tzinfo=timezone.utc)
        index.refresh(now)
        index._add(1, Fingerprint(signature=b"\1" * 512, shingles=100, title_words=frozenset({"x"})), now,
                   source_id="s")
        with pytest.raises(ValueError):
            index._add(2, Fingerprint(signature=b"\0" * 12, shingles=2, title_words=frozenset({"x"})), now,
                       source_id="s")
        assert len(index) == 1
        item = Fingerprint(signature=b"\0" * 512, shingles=100, title_words=frozenset({"x"}))
        assert index._candidates(item) == []  # no row of the refused story among the short ones
    finally:
        store.close()
