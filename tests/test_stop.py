"""Graceful stop: SIGTERM while a poll hangs on a slow publisher, within and past the stop deadline."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from monitor.config import Config, load_config
from monitor.service import Daemon as ServiceDaemon
from monitor.service import poll_once
from monitor.store import Store, utcnow
from tests.faultserver import serve_faults
from tests.servers import Newsroom, WebhookReceiver, serve_newsroom, serve_webhook
from tests.test_daemon import Daemon, publish, until, wait_for

pytestmark = pytest.mark.slow


def test_sigterm_during_start_up_exits_cleanly(tmp_path: Path) -> None:
    """A stop sent while the daemon is still importing and migrating (`systemctl stop` right
    after a start) exits 0 and leaves an intact database, whichever step it lands in."""
    config = tmp_path / "monitor.yaml"
    config.write_text("""
database: monitor.db
defaults: {every: 1h}
sources: []
watchlists: [{name: desk, keywords: [ISAF], notify: [console]}]
channels: {console: "console://"}
""")
    daemon = Daemon(config, tmp_path / "daemon.log")
    assert wait_for(lambda: "daemon starting" in daemon.output()), daemon.output()
    code = daemon.stop()
    output = daemon.output()
    assert code == 0, output
    assert "daemon stopped" in output and "Traceback" not in output, output
    if (tmp_path / "monitor.db").exists():
        conn = sqlite3.connect(tmp_path / "monitor.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()


def test_sigterm_while_the_config_loads_is_a_clean_stop_during_start_up(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The same, landing at a known step: SIGTERM while `monitor run` loads its config."""
    import os
    import signal

    from click.testing import CliRunner

    from monitor.cli import main
    from monitor.config import apart

    def interrupted(path: Path) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        pytest.fail("SIGTERM did not interrupt start-up")

    monkeypatch.setattr(apart, "load_config_apart", interrupted)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = CliRunner().invoke(main, ["--log-format", "text", "run", "-c", str(tmp_path / "monitor.yaml")])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert result.exit_code == 0, result.output
    assert "daemon stopped during start-up" in result.output


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_stop_landing_in_code_run_by_exec_still_exits_0(tmp_path: Path, signal_name: str) -> None:
    """Start-up's imports run code through exec() (dataclasses, namedtuples). A stop that
    lands there once made CPython end the process by SIGINT (exit -2) after the daemon had
    logged its clean stop: found by test_crash, one run in a few dozen."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "tests.stop_in_exec", str(tmp_path / "monitor.yaml"), signal_name],
                          capture_output=True, timeout=60, cwd=Path(__file__).parent.parent)
    output = (done.stdout + done.stderr).decode()
    assert "daemon stopped during start-up" in output, output
    assert done.returncode == 0, output


def test_sigterm_during_a_slow_poll_finishes_it_and_exits_cleanly(tmp_path: Path) -> None:
    """The in-flight poll ends at its own deadline, its error is recorded, the database is
    closed (no WAL left behind) and the process exits 0."""
    with serve_faults(b"") as faults:
        config = tmp_path / "monitor.yaml"
        config.write_text(f"""
database: monitor.db
defaults: {{every: 1m, timeout: 3s}}
sources:
  - {{id: slow, url: "{faults.url('/hang')}", kind: feed}}
watchlists: [{{name: desk, keywords: [ISAF], notify: [console]}}]
channels: {{console: "console://"}}
""")
        daemon = Daemon(config, tmp_path / "daemon.log")
        assert wait_for(lambda: bool(faults.headers)), daemon.output()
        code = daemon.stop()
    output = daemon.output()
    assert code == 0, output
    assert "loop=uvloop" in output  # the daemon runs on monitor.eventloop's loop
    order = [output.find(line) for line in ("daemon stopping", "poll source=slow status=error", "daemon stopped")]
    assert -1 not in order and order == sorted(order), output
    assert not (tmp_path / "monitor.db-wal").exists()
    conn = sqlite3.connect(tmp_path / "monitor.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        error = conn.execute("SELECT last_error FROM sources WHERE id = 'slow'").fetchone()[0]
    finally:
        conn.close()
    assert "no complete response within 3s" in error


def test_sigterm_delivers_an_alert_matched_by_an_inflight_poll_and_starts_no_poll(tmp_path: Path) -> None:
    """An alert a poll in flight at SIGTERM matches reaches the webhook before exit, and after
    "daemon stopping" the log shows only the polls that were already running."""
    with serve_faults(b"") as faults, serve_newsroom() as site, serve_webhook() as hook:
        publish(site, [("talks", "Talks held", "ISAF commanders met their counterparts.")], delay=5.0)
        config = tmp_path / "monitor.yaml"
        config.write_text(f"""
database: monitor.db
defaults: {{every: 2s, timeout: 8s}}
sources:
  - {{id: slow, url: "{faults.url('/hang')}", kind: feed}}
  - {{id: news, url: "{site.url('/feed.xml')}", backfill: true}}
watchlists: [{{name: desk, keywords: [ISAF], notify: [chat]}}]
channels: {{chat: "{hook.apprise_url}"}}
""")
        daemon = Daemon(config, tmp_path / "daemon.log")
        # SIGTERM once the news poll asks for its article: it then has 5 s to answer, and
        # slow (which started first) 8 s to time out, both well past the signal landing.
        assert wait_for(lambda: "/news/talks" in site.arrived and bool(faults.headers)), daemon.output()
        assert not hook.received
        code = daemon.stop()
    output = daemon.output()
    assert code == 0, output
    assert [body["title"] for body in hook.received] == ["[desk] Talks held"], output
    stopping = output.find("daemon stopping")
    assert stopping != -1, output
    after = [line for line in output[stopping:].splitlines() if "poll source=" in line]
    assert sorted(line.split("poll source=")[1].split()[0] for line in after) == ["news", "slow"], output
    assert "delivery channel=chat" in output[stopping:], output


def alerts_due_at_start(tmp_path: Path, site: Newsroom, hook: WebhookReceiver,
                        releases: list[tuple[str, str, str]]) -> Config:
    """A config whose alerts for ``releases`` are queued and due at once, so the delivery job's
    first run at start posts them, each answered 2 s after the webhook takes it."""
    publish(site, releases)
    config_path = tmp_path / "monitor.yaml"
    config_path.write_text(f"""
database: monitor.db
defaults: {{every: 1h, timeout: 5s}}
sources:
  - {{id: news, url: "{site.url('/feed.xml')}", backfill: true}}
watchlists: [{{name: desk, keywords: [ISAF], notify: [chat]}}]
channels: {{chat: "{hook.apprise_url}"}}
""")
    config = load_config(config_path)
    hook.refuse = True
    asyncio.run(poll_once(config))
    store = Store(config.database)
    try:  # refused once: due again now
        for row in store.queued_alerts():
            store.mark_retry(row.id, error="refused", next_attempt=utcnow(), done_targets=[])
    finally:
        store.close()
    hook.refuse, hook.ack_delay = False, 2.0
    return config


def test_sigterm_while_the_delivery_job_posts_an_alert_sends_it_once(tmp_path: Path) -> None:
    """An alert the periodic delivery job is posting at SIGTERM arrives once: stop waits for the
    job rather than cancel it mid-send, when the post goes out anyway and the last drain repeats it."""
    with serve_newsroom() as site, serve_webhook() as hook:
        config = alerts_due_at_start(tmp_path, site, hook,
                                     [("talks", "Talks held", "ISAF commanders met their counterparts.")])
        daemon = ServiceDaemon(config)

        async def scenario() -> None:
            running = asyncio.create_task(daemon.run())
            assert await until(lambda: bool(hook.received), timeout=10)  # taken, not yet answered
            daemon.stop()
            await asyncio.wait_for(running, timeout=30)

        asyncio.run(scenario())
    assert [body["title"] for body in hook.received] == ["[desk] Talks held"]


def test_a_stop_past_its_deadline_during_a_long_delivery_run_sends_each_alert_at_most_once(
        tmp_path: Path) -> None:
    """Six alerts queued, each post taking 2 s, and a stop deadline of 1 s: the delivery run is
    cancelled mid-post. The post under way still records that it went, so the last drain does not
    post it again (one alert arrived twice that way), and the last drain stops starting posts 5 s
    past the deadline: what is left stays queued for the next start."""
    with serve_newsroom() as site, serve_webhook() as hook:
        config = alerts_due_at_start(tmp_path, site, hook,
                                     [(f"r{n}", f"Release {n}", f"ISAF statement number {n}.") for n in range(6)])
        daemon = ServiceDaemon(config, stop_deadline=1.0)

        async def scenario() -> None:
            running = asyncio.create_task(daemon.run())
            assert await until(lambda: bool(hook.received), timeout=10)  # the first post taken, not answered
            daemon.stop()
            await asyncio.wait_for(running, timeout=40)

        asyncio.run(scenario())
        titles = [str(body["title"]) for body in hook.received]
    store = Store(config.database)
    try:
        counts = store.outbox_counts()
    finally:
        store.close()
    assert len(titles) == len(set(titles)), titles
    assert counts.get("sent", 0) == len(titles) and counts.get("queued", 0) == 6 - len(titles) > 0, counts


def test_a_poll_outliving_the_stop_deadline_is_cancelled_cleanly(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A poll still hanging at the stop deadline is cancelled: run() returns, nothing half-written
    is left, and the database is closed."""
    with serve_faults(b"") as faults:
        config_path = tmp_path / "monitor.yaml"
        config_path.write_text(f'database: monitor.db\ndefaults: {{every: 1m, timeout: 60s}}\n'
                               f'sources:\n  - {{id: stuck, url: "{faults.url("/hang")}"}}\n')
        daemon = ServiceDaemon(load_config(config_path), stop_deadline=0.5)

        async def scenario() -> None:
            running = asyncio.create_task(daemon.run())
            assert await until(lambda: bool(faults.headers), timeout=10)
            daemon.stop()
            await asyncio.wait_for(running, timeout=15)

        with caplog.at_level(logging.INFO, logger="monitor.service"):
            asyncio.run(scenario())
    assert "stop: cancelled 1 jobs still running after 0.5s" in caplog.text
    assert "daemon stopped" in caplog.text
    assert not (tmp_path / "monitor.db-wal").exists()
    conn = sqlite3.connect(tmp_path / "monitor.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM sources WHERE last_status IS NOT NULL").fetchone()[0] == 0
    finally:
        conn.close()


def test_a_second_stop_signal_cancels_a_hanging_poll_at_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An operator pressing Ctrl-C again does not wait out the stop deadline (a minute here):
    the hanging poll is cancelled, the daemon stops, and the database is left whole."""
    with serve_faults(b"") as faults:
        config_path = tmp_path / "monitor.yaml"
        config_path.write_text(f'database: monitor.db\ndefaults: {{every: 1m, timeout: 90s}}\n'
                               f'sources:\n  - {{id: stuck, url: "{faults.url("/hang")}"}}\n')
        daemon = ServiceDaemon(load_config(config_path), stop_deadline=60)

        async def scenario() -> None:
            running = asyncio.create_task(daemon.run())
            assert await until(lambda: bool(faults.headers), timeout=10)
            daemon.stop()
            await asyncio.sleep(0.5)
            assert not running.done()  # the first stop waits for the poll
            daemon.stop()
            await asyncio.wait_for(running, timeout=30)  # well inside the deadline of 60 s

        with caplog.at_level(logging.INFO, logger="monitor.service"):
            asyncio.run(scenario())
    assert "stop: asked again; cancelling what is still running" in caplog.text
    assert "stop: cancelled 1 jobs still running on a second stop signal" in caplog.text
    conn = sqlite3.connect(tmp_path / "monitor.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
