"""Story clustering: republications join a story and alert once; different releases stay apart."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

from monitor.models import Match
from monitor.store import NewItem, Store
from monitor.stories import fingerprint, same_story

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "isaf-press-releases"
BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_clustering.py"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)


def releases() -> list[dict[str, object]]:
    path = CORPUS / "press_releases.jsonl"
    if not path.is_file():
        pytest.skip(f"corpus not found at {CORPUS} (the isaf-press-releases set from ../shared/corpus)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_clustering", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def item(url: str, source: str, title: str, text: str) -> NewItem:
    match = Match(watchlist="desk", terms=("ISAF",), snippet=text[:80])
    return NewItem(url=url, guid=None, source_id=source, title=title, summary="", published=None, main_text=text,
                   text_origin="article", fetch_error=None, content_hash=url, baseline=False, matches=(match,),
                   deliveries=(("desk", "chat"),), fingerprint=fingerprint(title=title, text=text))


def commit(store: Store, new: NewItem, now: datetime) -> None:
    store.commit_poll(new.source_id, url="https://example.org/feed", items=[new], now=now, etag=None,
                      last_modified=None, body_hash="b", warnings=(), baseline=False)


def test_labelled_set_precision_and_recall_floors() -> None:
    """On the labelled ISAF set (first 250 releases), "same story" keeps precision and recall above 0.95."""
    releases()
    module = bench()
    score = module.evaluate(module.build_pairs(CORPUS, limit=250))
    assert score.precision >= 0.95 and score.recall >= 0.95, score


def test_releases_from_one_office_on_one_day_are_different_stories() -> None:
    """Two real releases with the same dateline and boilerplate are not one story."""
    by_date: dict[str, list[str]] = {}
    for row in releases():
        text = str(row["text"])
        if "For Immediate Release" in text and "(May 23, 2011)" in text:
            by_date.setdefault("May 23, 2011", []).append(text)
    first, second = by_date["May 23, 2011"][:2]
    assert not same_story(fingerprint(title="ISAF release", text=first), fingerprint(title="ISAF release", text=second))


def test_a_copy_joins_the_story_and_adds_no_alert(store: Store) -> None:
    """A near-verbatim copy at another outlet joins the first item's story; only the first is alerted."""
    text = str(releases()[1]["text"])
    commit(store, item("https://ispr.example/1", "ispr", "Coalition force detains insurgents", text), NOW)
    commit(store, item("https://app.example/2", "app", "Insurgents held in Marjeh",
                       "Home | World\n" + text + "\nCopyright APP"), NOW + timedelta(minutes=40))
    rows = store.db.execute("SELECT story_id FROM items ORDER BY id").fetchall()
    assert rows[0] == rows[1]
    assert store.db.execute("SELECT size FROM stories").fetchall() == [(2,)]
    assert store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1


def test_a_different_release_gets_its_own_story_and_alert(store: Store) -> None:
    """A different release, even from the same office, starts its own story and is alerted."""
    rows = releases()
    commit(store, item("https://ispr.example/1", "ispr", "One", str(rows[1]["text"])), NOW)
    commit(store, item("https://ispr.example/2", "ispr", "Two", str(rows[2]["text"])), NOW)
    assert store.db.execute("SELECT COUNT(DISTINCT story_id) FROM items").fetchone()[0] == 2
    assert store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2


def test_two_releases_of_one_source_that_share_boilerplate_are_both_alerted(store: Store) -> None:
    """Two arrests ISAF reported on Oct. 9, 2012: the same dateline, opening and closing
    sentence (containment ~0.5) and a title word in common, which across outlets reads as a
    rewritten copy. From one source they are two releases: two stories, two alerts; a copy
    of one at another outlet still joins it and alerts nobody again."""
    rows = releases()
    nangarhar, paktika = str(rows[21]["text"]), str(rows[54]["text"])
    assert "Nangarhar" in nangarhar and "Paktika" in paktika and "(Oct. 9, 2012)" in nangarhar + paktika
    commit(store, item("https://isaf.example/1", "isaf", "Taliban leader arrested in Nangarhar", nangarhar), NOW)
    commit(store, item("https://isaf.example/2", "isaf", "Haqqani member arrested in Paktika", paktika), NOW)
    commit(store, item("https://app.example/9", "app", "Haqqani member arrested in Paktika", paktika),
           NOW + timedelta(minutes=30))
    stories = [row[0] for row in store.db.execute("SELECT story_id FROM items ORDER BY id")]
    assert stories[0] != stories[1] and stories[2] in stories[:2]
    alerted = store.db.execute("SELECT i.url FROM outbox o JOIN items i ON i.id = o.item_id ORDER BY o.id").fetchall()
    assert [url for (url,) in alerted] == ["https://isaf.example/1", "https://isaf.example/2"]


def test_a_copy_after_the_window_is_a_new_story(store: Store) -> None:
    """A republication seen after the 72-hour window starts a new story and alerts again."""
    text = str(releases()[1]["text"])
    commit(store, item("https://ispr.example/1", "ispr", "One", text), NOW)
    commit(store, item("https://app.example/1", "app", "One", text), NOW + timedelta(hours=73))
    assert store.db.execute("SELECT COUNT(DISTINCT story_id) FROM items").fetchone()[0] == 2
    assert store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2


def crash_mid_commit(store: Store, text: str) -> None:
    """A poll commit that fails after filing one item (and its new story)."""
    def broken() -> Iterator[NewItem]:
        yield item("https://ispr.example/1", "ispr", "One", text)
        raise RuntimeError("crash mid-poll")

    with pytest.raises(RuntimeError):
        store.commit_poll("ispr", url="https://example.org/feed", items=broken(), now=NOW, etag=None,
                          last_modified=None, body_hash="b", warnings=(), baseline=False)


def test_a_failed_commit_leaves_no_story_behind(store: Store) -> None:
    """Story assignment is part of the poll's transaction: a crash keeps neither item nor story."""
    crash_mid_commit(store, str(releases()[1]["text"]))
    assert store.db.execute("SELECT COUNT(*) FROM stories").fetchone()[0] == 0


def test_a_poll_rolled_back_after_its_commit_leaves_no_story_in_the_kept_index(store: Store) -> None:
    """A poll's transaction may fail after commit_poll's part of it went through (its next
    due time, say): the rollback undoes the story, and the index must forget it too."""
    text = str(releases()[1]["text"])
    with pytest.raises(RuntimeError), store.transaction():
        commit(store, item("https://ispr.example/1", "ispr", "One", text), NOW)
        raise RuntimeError("failed after the items were filed")
    commit(store, item("https://app.example/1", "app", "One", text), NOW + timedelta(minutes=1))
    story = store.db.execute("SELECT story_id FROM items").fetchone()[0]
    assert store.db.execute("SELECT id FROM stories").fetchall() == [(story,)]


def test_the_kept_index_sees_stories_another_process_began(tmp_path: Path) -> None:
    """The daemon keeps its story index between polls; a story `monitor once` began in the
    meantime (another process, another Store) is still found."""
    text = str(releases()[1]["text"])
    daemon, other = Store(tmp_path / "m.db"), Store(tmp_path / "m.db")
    try:
        commit(daemon, item("https://ispr.example/0", "ispr", "Other", str(releases()[2]["text"])), NOW)
        commit(other, item("https://ispr.example/1", "ispr", "One", text), NOW + timedelta(minutes=1))
        commit(daemon, item("https://app.example/1", "app", "One", text), NOW + timedelta(minutes=2))
        rows = daemon.db.execute("SELECT url, story_id FROM items ORDER BY id").fetchall()
    finally:
        daemon.close()
        other.close()
    assert rows[1][1] == rows[2][1] != rows[0][1]


def test_a_failed_commit_leaves_no_story_in_the_kept_index(store: Store) -> None:
    """A story begun by a commit that rolled back must not catch the next copy of its text."""
    text = str(releases()[1]["text"])
    crash_mid_commit(store, text)
    commit(store, item("https://app.example/1", "app", "One", text), NOW + timedelta(minutes=1))
    story = store.db.execute("SELECT story_id FROM items").fetchone()[0]
    assert store.db.execute("SELECT id FROM stories").fetchall() == [(story,)]
    assert store.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1


def test_monitor_items_shows_where_else_a_story_ran(store: Store) -> None:
    """`monitor items` lists, beside an item, the other sources of its story."""
    from monitor.report import render_items
    from monitor.store_report import recent_items

    text = str(releases()[1]["text"])
    commit(store, item("https://ispr.example/1", "ispr", "One", text), NOW)
    commit(store, item("https://app.example/1", "app", "One at APP", text), NOW + timedelta(minutes=5))
    found = {r.source_id: r for r in recent_items(store)}
    assert found["ispr"].also_at == ("app",) and found["app"].also_at == ("ispr",)
    assert "(also at: app)" in render_items(list(found.values()), now=NOW + timedelta(hours=1))


def test_a_page_of_boilerplate_does_not_chain_two_stories(store: Store) -> None:
    """An item that is only a shared closing paragraph joins a story but never pulls a third, different item in."""
    closing = ("The statement was issued after a meeting of senior officials at the headquarters, where the "
               "participants reviewed the regional security situation and the progress of ongoing cooperation. "
               "Officials said the discussions were held in a cordial atmosphere and that both sides agreed to "
               "continue the dialogue at the next scheduled session later this month.")
    talks = f"{closing}\nCommanders of ISAF and the Pakistan Army met to discuss border coordination.\n{closing}"
    visit = ("General Kayani, Chief of Army Staff, visited the Corps Headquarters today and was briefed on the "
             f"operational situation.\n{closing}")
    commit(store, item("https://news.example/talks", "news", "Border coordination talks held", talks), NOW)
    commit(store, item("https://wire.example/wheat", "wire", "Wheat support price announced",
                       f"{closing}\n{closing}"), NOW)
    commit(store, item("https://ispr.example/visit", "ispr", "COAS visits Corps Headquarters", visit), NOW)
    stories = dict(store.db.execute("SELECT url, story_id FROM items").fetchall())
    assert stories["https://wire.example/wheat"] == stories["https://news.example/talks"]
    assert stories["https://ispr.example/visit"] != stories["https://news.example/talks"]
    alerted = {r[0] for r in store.db.execute("SELECT i.url FROM outbox o JOIN items i ON i.id = o.item_id")}
    assert alerted == {"https://news.example/talks", "https://ispr.example/visit"}


def test_a_poll_of_a_republishing_outlet_alerts_nothing_new(tmp_path: Path) -> None:
    """Through the whole pipeline: an outlet's retitled copy of a release polled after it adds no
    message, and the one message sent says where else the story ran."""
    import asyncio

    from monitor.config import SourceConfig
    from monitor.fetch import Fetcher
    from monitor.match import Matcher, WatchRule
    from monitor.notify.deliver import Deliverer
    from monitor.pipeline import Poller
    from tests.newsroom_pages import rss_feed, when
    from tests.servers import serve_newsroom, serve_webhook

    release = ("KABUL, Afghanistan - An Afghan and ISAF security force detained a Haqqani network facilitator "
               "in Khost district yesterday. The facilitator supplied weapons and explosives to fighters in the "
               "province and moved them across the border. The security force seized two rifles and a radio "
               "during the operation, and no civilians were harmed.")

    def source(source_id: str, url: str) -> SourceConfig:
        return SourceConfig.model_validate({"id": source_id, "name": source_id.upper(), "url": url,
                                            "backfill": True, "fetch_articles": False})

    with serve_newsroom() as site, serve_webhook() as hook:
        site.publish("/ispr.xml", rss_feed(base=site.base_url, items=[
            ("/ispr/1", "Haqqani facilitator detained in Khost", release, when(20))]), "application/rss+xml")
        site.publish("/app.xml", rss_feed(base=site.base_url, items=[
            ("/app/9?utm_source=rss", "Khost raid nets Haqqani weapons supplier", f"Share this story. {release}",
             when(20, 11))]), "application/rss+xml")
        store = Store(tmp_path / "m.db")

        async def run() -> None:
            async with Fetcher() as fetcher:
                poller = Poller(store=store, fetcher=fetcher, matcher=Matcher([WatchRule(name="desk",
                                                                                         keywords=("ISAF",))]),
                                routes={"desk": ("chat",)})
                await poller.poll(source("ispr", site.url("/ispr.xml")))
                await poller.poll(source("app", site.url("/app.xml")))
            await Deliverer(store, channels={"chat": [hook.apprise_url]}, source_names={"ispr": "ISPR", "app": "APP"},
                            timezone=ZoneInfo("UTC"), give_up=timedelta(days=3)).drain()

        try:
            asyncio.run(run())
        finally:
            store.close()
    [message] = hook.received
    assert "Haqqani facilitator detained in Khost" in str(message["title"])
    assert "Also at: APP" in str(message["message"])


# What datasketch 2.0.0 gave for each text below (MinHash(num_perm=128, seed=8,
# scheme="affine32"), update_batch of the text's shingles): the first 16 hex digits of the
# SHA-256 of hashvalues.astype("<u4").tobytes(). Recorded, so that neither datasketch nor
# numpy is needed to hold our scheme to it.
DATASKETCH_RELEASES = (
    "7ab3dfeb70850eb1", "6e6e1e414be515bc", "32b77968c9d0d51e", "f6218e5d09e6a12f", "1ad52ad947fdcc07",
    "841cf1596fe5e644", "eee95a83b7f09f55", "4115ae040c769233", "cab4d4465391cad7", "ca4ab5f3182e8823",
    "d2e24e31d5aa8ce9", "734cafa5a00379f5", "517214aa1dd386fd", "f3ee766bebd9b417", "8ed40060851e361c",
    "b0e7fa2dcca6429d", "2e1ae3ece6a31963", "791df4e167bf4777", "b9d94f13b4c1641c", "71534164e33c2a1c",
    "2ff5d0e7c64d713c", "3ad34571fd51405e", "684c11ac461a992c", "acaeeead3cad7a55", "3a38c25d386b756f",
    "295763a4cf044777", "371bd53475df515b", "dc18f013fe4cb028", "4a5fcc0bceef68f5", "df43b8219abfccbe",
    "e0a435d153abd4e9", "7b5dc393a8e492c8", "60c68e870de5dea2", "9bfb16b365528da5", "e80a5344d57ddc19",
    "21f28974e99b9639", "370e77f2a56f5f75", "b3bc30ad99622dd3", "42917c137bf293ee", "01bffcd677e04375",
)  # the first 40 releases of the corpus
DATASKETCH_SHORT = {
    "": "9f56cda75fefeab9",
    "one two three four five": "8900ffce209e9d67",  # exactly two shingles
    ("General Kayani visited the Peshawar corps headquarters on Monday, where ISAF commanders briefed him "
     "on the border situation and joint patrols along the Durand Line."): "a29d78efe2b712f0",
}


def _shingles(text: str) -> list[bytes]:
    from monitor.stories import SHINGLE, words

    tokens = words(text)
    return [" ".join(tokens[i:i + SHINGLE]).encode() for i in range(max(len(tokens) - SHINGLE + 1, 0))]


class TestMinHash:
    """Our MinHash is datasketch's affine32 scheme exactly: stored fingerprints stay comparable."""

    @staticmethod
    def _check(text: str, expected: str) -> None:
        from monitor.stories import text_signature

        # The stored form, through the production path: shingling, hashing and byte order.
        stored, count = text_signature(text)
        assert hashlib.sha256(stored).hexdigest()[:16] == expected
        assert count == len(set(_shingles(text)))

    def test_signatures_equal_datasketch_affine32_on_short_texts(self) -> None:
        """The empty set, two shingles, a sentence: no corpus needed."""
        for text, expected in DATASKETCH_SHORT.items():
            self._check(text, expected)

    def test_signatures_equal_datasketch_affine32(self) -> None:
        """On real release texts, every signature equals datasketch's for the same shingles and seed."""
        for row, expected in zip(releases()[:40], DATASKETCH_RELEASES, strict=True):
            self._check(str(row["text"]), expected)

    def test_the_permutations_are_numpy_randomstate_draws(self) -> None:
        """The first ``a`` and ``b`` are what numpy's RandomState(8) draws (recorded from numpy 2.4):
        the seeding that every value above depends on."""
        from monitor.minhash import _permutations

        a, b = _permutations(128, 8)
        assert a[:3] == (2 * 1603867075 + 1, 2 * 47736148 + 1, 2 * 2012366833 + 1)
        assert all(x % 2 == 1 and 0 < x < 2**32 for x in a) and all(0 <= y < 2**32 for y in b)
        assert len(set(a)) == len(set(b)) == 128

    def test_a_shared_share_of_shingles_is_estimated(self) -> None:
        """Two sets sharing a third of their members (Jaccard 1/3) agree in about a third of the
        signature's places."""
        from monitor.minhash import agreements, signature

        left = [f"shingle {n}".encode() for n in range(0, 400)]
        right = [f"shingle {n}".encode() for n in range(200, 600)]  # Jaccard 200/600
        agree = agreements(signature(left, num_perm=256, seed=3), signature(right, num_perm=256, seed=3)) / 256
        assert abs(agree - 1 / 3) < 0.1
