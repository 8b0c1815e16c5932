"""`monitor run` as a real subprocess: polls on schedule, hot-reloads, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.dispatch import spread
from monitor.store import Store
from tests.newsroom_pages import FILLER, article_page, rss_feed, when
from tests.servers import Newsroom, WebhookReceiver, serve_newsroom, serve_webhook

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], *, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


async def until(condition: Callable[[], bool], *, timeout: float = 30.0) -> bool:
    """``wait_for`` on an event loop, for a daemon run in the test's own process."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return condition()


class Daemon:
    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self.handle = log.open("a")
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "--log-format", "text", "run", "-c",
                                      str(config)], stdout=self.handle, stderr=subprocess.STDOUT,
                                     cwd=config.parent, env=dict(os.environ))

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        # Before "daemon starting" the interpreter is still loading and SIGTERM would kill it.
        wait_for(lambda: "daemon starting" in self.output() or self.proc.poll() is not None, timeout=20)
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        finally:
            self.handle.close()


@pytest.fixture
def newsroom() -> Iterator[tuple[Newsroom, WebhookReceiver]]:
    with serve_newsroom() as site, serve_webhook() as hook:
        yield site, hook


def write_config(tmp: Path, site: Newsroom, hook: WebhookReceiver, keywords: str = "[ISAF]") -> Path:
    (tmp / "watchlists").mkdir(exist_ok=True)
    (tmp / "watchlists" / "desk.yaml").write_text(f"name: desk\nkeywords: {keywords}\nnotify: [chat]\n")
    config = tmp / "monitor.yaml"
    config.write_text(f"""
database: monitor.db
defaults: {{every: 1s, timeout: 5s}}
channels: {{chat: "{hook.apprise_url}"}}
sources:
  - {{id: desknews, url: "{site.url('/feed.xml')}"}}
watchlists: ["watchlists/*.yaml"]
""")
    return config


def publish_feeds(site: Newsroom, names: Iterable[str]) -> None:
    """A feed of one story at ``/<name>.xml`` for each name."""
    for name in names:
        site.publish(f"/{name}.xml", rss_feed(base=site.base_url, items=[
            (f"/news/{name}", f"{name} story", "Nothing to see.", when(20))]), "application/rss+xml")


def with_sources(config: Path, site: Newsroom, sources: dict[str, str]) -> str:
    """``write_config``'s config text with these feed sources, name -> ``every``, in place of its own."""
    listed = "".join(f'  - {{id: {name}, url: "{site.url(f"/{name}.xml")}", every: {every}}}\n'
                     for name, every in sources.items())
    return config.read_text().split("sources:\n")[0] + "sources:\n" + listed + 'watchlists: ["watchlists/*.yaml"]\n'


def publish(site: Newsroom, stories: list[tuple[str, str, str]], *, delay: float = 0.0) -> None:
    """Publish (slug, title, sentence) stories as articles and in the feed, newest first;
    each article page answers after ``delay`` seconds."""
    for slug, title, sentence in stories:
        site.publish(f"/news/{slug}", article_page(title=title, paragraphs=[FILLER, sentence, FILLER]), delay=delay)
    items = [(f"/news/{slug}", title, "Read more.", when(20, i % 24)) for i, (slug, title, _) in enumerate(stories)]
    site.publish("/feed.xml", rss_feed(base=site.base_url, items=items), "application/rss+xml")


def indexed(database: Path, word: str) -> int:
    """How many items the search index finds for ``word``, read without writing."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH ?", [word]).fetchone()[0])
    finally:
        conn.close()


def test_daemon_alerts_within_a_poll_and_never_repeats_after_restart(
        tmp_path: Path, newsroom: tuple[Newsroom, WebhookReceiver]) -> None:
    """A new matching item alerts once while the daemon runs; SIGTERM exits 0; a restart repeats nothing."""
    site, hook = newsroom
    publish(site, [("old", "Old story", "Nothing to see.")])
    config = write_config(tmp_path, site, hook)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_for(lambda: "status=baseline" in daemon.output()), daemon.output()
        publish(site, [("new", "Talks held", "ISAF commanders met their counterparts."),
                       ("old", "Old story", "Nothing to see.")])
        assert wait_for(lambda: len(hook.received) == 1), daemon.output()
        # The dispatch tick indexes new items for search while the daemon runs.
        assert wait_for(lambda: indexed(tmp_path / "monitor.db", "ISAF") == 1), daemon.output()
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert "daemon stopped" in daemon.output()

    again = Daemon(config, tmp_path / "daemon2.log")
    try:
        assert wait_for(lambda: again.output().count("poll source=desknews") >= 3), again.output()
    finally:
        assert again.stop() == 0, again.output()
    assert len(hook.received) == 1


def test_a_restart_polls_at_once_only_the_sources_past_their_interval(
        tmp_path: Path, newsroom: tuple[Newsroom, WebhookReceiver]) -> None:
    """Hourly sources: one polled five minutes before the restart waits for its own time in
    the hour (dispatch.spread), at least half an hour after that poll, so a restart, or a
    crash loop, does not poll it again early; one last polled two hours ago, and one never
    polled, are polled within the minute."""
    site, hook = newsroom
    publish_feeds(site, ("recent", "stale", "new"))
    config = write_config(tmp_path, site, hook)
    config.write_text(with_sources(config, site, dict.fromkeys(("recent", "stale", "new"), "1h")))
    now = datetime.now(timezone.utc)
    last = (now - timedelta(minutes=5)).replace(microsecond=0)  # as the store keeps it
    store = Store(tmp_path / "monitor.db")
    store.record_not_modified("recent", now=last)
    store.record_not_modified("stale", now=now - timedelta(hours=2))
    seed = store.schedule_seed()
    store.close()
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_for(lambda: site.hits("/stale.xml") and site.hits("/new.xml"), timeout=70), daemon.output()
        time.sleep(1)  # the dispatch tick after those polls stores every next poll time
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert site.hits("/recent.xml") == []
    db = sqlite3.connect(tmp_path / "monitor.db")
    try:
        (stored,) = db.execute("SELECT next_poll_at FROM sources WHERE id = 'recent'").fetchone()
    finally:
        db.close()
    # Its own time in the hour (the database's seed in the hash), at least half an hour after
    # its last poll: the same whenever in the hour the test runs.
    after = (last + timedelta(minutes=30)).timestamp()
    own_time = after + (spread("recent", seed) * 3600 - after) % 3600
    assert abs(datetime.fromisoformat(stored).timestamp() - own_time) <= 2


@contextmanager
def baselined_daemon(tmp: Path, site: Newsroom, hook: WebhookReceiver) -> Iterator[Daemon]:
    """A daemon on ``write_config``'s config, once its first poll stored the feed as it is;
    stopped (and its exit status checked) on the way out."""
    publish(site, [("old", "Old story", "Nothing to see.")])
    daemon = Daemon(write_config(tmp, site, hook), tmp / "daemon.log")
    try:
        assert wait_for(lambda: "status=baseline" in daemon.output()), daemon.output()
        yield daemon
    finally:
        assert daemon.stop() == 0, daemon.output()


def alert_on_kayani(site: Newsroom, hook: WebhookReceiver, daemon: Daemon) -> None:
    """Publish a story that names Kayani, and wait for its one alert."""
    publish(site, [("kayani", "Army chief visits", "General Kayani visited the troops."),
                   ("old", "Old story", "Nothing to see.")])
    assert wait_for(lambda: len(hook.received) == 1), daemon.output()


def test_watchlist_edit_applies_without_restart_and_bad_edit_keeps_last_good(
        tmp_path: Path, newsroom: tuple[Newsroom, WebhookReceiver]) -> None:
    """Adding a keyword takes effect live; a broken edit is logged with FILE:LINE and ignored."""
    site, hook = newsroom
    with baselined_daemon(tmp_path, site, hook) as daemon:
        watchlist = tmp_path / "watchlists" / "desk.yaml"
        watchlist.write_text("name: desk\nkeywords: [ISAF\nnotify: [chat]\n")
        assert wait_for(lambda: "reload rejected" in daemon.output()), daemon.output()
        assert "desk.yaml:" in daemon.output()
        watchlist.write_text("name: desk\nkeywords: [ISAF, Kayani]\nnotify: [chat]\n")
        assert wait_for(lambda: "reload applied" in daemon.output()), daemon.output()
        alert_on_kayani(site, hook, daemon)
    assert hook.received[0]["title"] == "[desk] Army chief visits"


def test_sighup_reads_the_config_again_even_when_no_stamp_changed(
        tmp_path: Path, newsroom: tuple[Newsroom, WebhookReceiver]) -> None:
    """SIGHUP, as daemons take it: a reload now (a file restored with its old mtime, a mount
    that keeps mtimes), not the end of the daemon (it exited 129, dropping its last drain)."""
    site, hook = newsroom
    with baselined_daemon(tmp_path, site, hook) as daemon:
        watchlist = tmp_path / "watchlists" / "desk.yaml"
        stamp = watchlist.stat()
        watchlist.write_text("name: desk\nkeywords: [ISAF, Kayani]\nnotify: [chat]\n")
        os.utime(watchlist, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload applied" in daemon.output()), daemon.output()
        assert "SIGHUP: reading the config again" in daemon.output()
        alert_on_kayani(site, hook, daemon)
    assert hook.received[0]["title"] == "[desk] Army chief visits"


def test_a_new_watchlist_pattern_applies_when_its_first_file_appears(
        tmp_path: Path, newsroom: tuple[Newsroom, WebhookReceiver]) -> None:
    """A pattern added to monitor.yaml before its folder holds a file is rejected (it
    matches no file); creating the file completes the config, and it applies then, with
    no second touch of monitor.yaml."""
    site, hook = newsroom
    config = tmp_path / "monitor.yaml"
    with baselined_daemon(tmp_path, site, hook) as daemon:
        edited = tmp_path / "monitor.yaml.new"  # renamed into place: no check sees it half-written
        edited.write_text(config.read_text().replace('watchlists: ["watchlists/*.yaml"]',
                                                     'watchlists: ["watchlists/*.yaml", "army/*.yaml"]'))
        os.replace(edited, config)
        assert wait_for(lambda: "reload rejected" in daemon.output()), daemon.output()
        assert "'army/*.yaml' matches no file" in daemon.output()
        time.sleep(5)  # two checks or more: a stamp that differs at each would read the files again
        (tmp_path / "army").mkdir()
        chief = tmp_path / "army" / "chief.yaml.new"
        chief.write_text("name: army\nkeywords: [Kayani]\nnotify: [chat]\n")
        os.replace(chief, tmp_path / "army" / "chief.yaml")
        assert wait_for(lambda: "reload applied sources=1 watchlists=2" in daemon.output()), daemon.output()
        alert_on_kayani(site, hook, daemon)
    assert hook.received[0]["title"] == "[army] Army chief visits"
    assert daemon.output().count("reload rejected") == 1  # watched, not re-read every check


def scheduled_gap(database: Path, source_id: str) -> timedelta:
    """How long after its last poll the daemon has scheduled a source's next one."""
    db = sqlite3.connect(database)
    try:
        last, following = db.execute("SELECT last_poll_at, next_poll_at FROM sources WHERE id = ?",
                                     [source_id]).fetchone()
    finally:
        db.close()
    return datetime.fromisoformat(following) - datetime.fromisoformat(last)


def test_config_saved_by_rename_adds_removes_and_reschedules_sources_live(
        tmp_path: Path, newsroom: tuple[Newsroom, WebhookReceiver]) -> None:
    """A config replaced by rename starts an added source, stops a removed one, reschedules a retimed
    one and leaves an unchanged one polling."""
    site, hook = newsroom
    publish_feeds(site, ("keep", "gone", "retimed", "fresh"))
    config = write_config(tmp_path, site, hook)

    def save(sources: dict[str, str]) -> None:
        draft = tmp_path / ".monitor.yaml.tmp"
        draft.write_text(with_sources(config, site, sources))
        os.replace(draft, config)  # as editors save: the watched file is a new inode

    def polls(name: str) -> int:
        return len(site.hits(f"/{name}.xml"))

    save({"keep": "1s", "gone": "1s", "retimed": "1s"})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_for(lambda: min(polls("keep"), polls("gone"), polls("retimed")) >= 2), daemon.output()
        assert polls("fresh") == 0
        save({"keep": "1s", "retimed": "5s", "fresh": "1s"})
        assert wait_for(lambda: "reload applied" in daemon.output()), daemon.output()
        log = daemon.output()
        assert "reload: source=gone removed" in log and "reload: source=fresh added" in log, log
        assert "reload: source=retimed rescheduled" in log and "source=keep rescheduled" not in log, log

        kept, retimed = polls("keep"), polls("retimed")
        # A poll of `gone` already in flight at the reload may still finish; two of `keep` later, none may start.
        assert wait_for(lambda: polls("keep") >= kept + 2), daemon.output()
        gone = polls("gone")
        assert wait_for(lambda: polls("fresh") >= 2 and polls("keep") >= kept + 5
                        and polls("retimed") >= retimed + 1), daemon.output()
        assert polls("gone") == gone
        # Its schedule, not its speed: after a post-reload poll the next one is due ~5 s on
        # (stored to the second, after the poll ran), where it was 1 s before.
        assert wait_for(lambda: timedelta(seconds=3) <= scheduled_gap(tmp_path / "monitor.db", "retimed")
                        <= timedelta(seconds=6)), scheduled_gap(tmp_path / "monitor.db", "retimed")
    finally:
        assert daemon.stop() == 0, daemon.output()
