"""The HTTP endpoint: /healthz and /metrics, against a running daemon and on its own."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from monitor import service
from monitor.config import Config, load_config
from monitor.endpoint import Endpoint
from tests.servers import Newsroom, free_port, serve_newsroom, serve_webhook
from tests.test_daemon import Daemon, publish, until, wait_for

T = TypeVar("T")


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None


@pytest.mark.slow
def test_daemon_serves_healthz_and_metrics(tmp_path: Path) -> None:
    """With http.listen set, the daemon answers /healthz 200 and /metrics counts polls, items and alerts;
    `monitor health` and `monitor status` work beside it."""
    port = free_port()
    with serve_newsroom() as site, serve_webhook() as hook:
        publish(site, [("old", "Old story", "Nothing to see.")])
        (tmp_path / "monitor.yaml").write_text(f"""
database: monitor.db
defaults: {{every: 1s, timeout: 5s}}
channels: {{chat: "{hook.apprise_url}"}}
sources:
  - {{id: desknews, url: "{site.url('/feed.xml')}"}}
watchlists:
  - {{name: desk, keywords: [ISAF], notify: [chat]}}
http: {{listen: "127.0.0.1:{port}"}}
""")
        daemon = Daemon(tmp_path / "monitor.yaml", tmp_path / "daemon.log")
        base = f"http://127.0.0.1:{port}"
        try:
            assert wait_for(lambda: (r := _get(f"{base}/healthz")) is not None and r.status_code == 200), \
                daemon.output()
            assert _get(f"{base}/healthz").text == "ok\n"  # type: ignore[union-attr]
            checked = subprocess.run([sys.executable, "-m", "monitor", "health", "-c", str(tmp_path / "monitor.yaml")],
                                     capture_output=True, text=True, timeout=60)
            assert checked.returncode == 0 and "200 ok" in checked.stdout, checked.stderr
            publish(site, [("new", "Talks held", "ISAF commanders met."), ("old", "Old story", "Nothing to see.")])
            assert wait_for(lambda: len(hook.received) == 1), daemon.output()

            def scraped() -> str:
                response = _get(f"{base}/metrics")
                return response.text if response is not None else ""

            assert wait_for(lambda: 'monitor_alerts_sent_total{channel="chat"} 1.0' in scraped()), scraped()
            text = scraped()
            assert 'monitor_polls_total{source="desknews",status="baseline"} 1.0' in text
            assert 'monitor_new_items_total{source="desknews"}' in text
            assert 'monitor_matched_items_total{source="desknews"} 1.0' in text
            assert 'monitor_poll_duration_seconds_count{status="baseline"} 1.0' in text
            assert 'monitor_alerts_queued{channel="chat"} 0.0' in text
            assert 'monitor_source_consecutive_failures{source="desknews"} 0.0' in text
            assert _get(f"{base}/nothing").status_code == 404  # type: ignore[union-attr]
            status = subprocess.run([sys.executable, "-m", "monitor", "status", "--json", "-c",
                                     str(tmp_path / "monitor.yaml")], capture_output=True, text=True, timeout=60)
            assert status.returncode == 0, status.stderr
            source = json.loads(status.stdout)["sources"][0]
            assert source["items"] == 2 and source["next_poll_at"] is not None, "status reads the live database"
            # A typo saved in the config: the daemon runs on (a reload keeps the last good config),
            # so its health check still asks it, and says the file has problems.
            config = tmp_path / "monitor.yaml"
            config.write_text(config.read_text().replace("keywords: [ISAF]", "keywrods: [ISAF]"))
            checked = subprocess.run([sys.executable, "-m", "monitor", "health", "-c", str(config)],
                                     capture_output=True, text=True, timeout=60)
            assert checked.returncode == 0 and "200 ok" in checked.stdout, checked.stderr
            assert "the config has problems" in checked.stderr
        finally:
            assert daemon.stop() == 0
    assert "http listening on 127.0.0.1" in daemon.output()


def test_healthz_answers_503_with_the_reason() -> None:
    """An unhealthy daemon answers 503 and says why; other methods get 405."""
    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        port = free_port()
        endpoint = Endpoint(host="127.0.0.1", port=port, health=lambda: "the scheduler is not running",
                            metrics=lambda: b"")
        await endpoint.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                return (await client.get("/healthz"), await client.post("/healthz"),
                        await client.head("/healthz"))
        finally:
            await endpoint.close()

    health, post, head = asyncio.run(scenario())
    assert health.status_code == 503 and health.text == "unhealthy: the scheduler is not running\n"
    assert post.status_code == 405
    assert head.status_code == 503 and head.content == b""


def test_a_header_line_past_the_read_limit_is_refused_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """A 2 MB header line (a scanner, a broken proxy) has its connection closed unanswered,
    with no traceback at ERROR in the daemon's log; the next request is answered as usual."""
    async def scenario() -> tuple[bytes, httpx.Response]:
        port = free_port()
        endpoint = Endpoint(host="127.0.0.1", port=port, health=lambda: None, metrics=lambda: b"")
        await endpoint.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nX-Junk: " + b"a" * 2_000_000 + b"\r\n\r\n")
            try:
                await writer.drain()
            except ConnectionError:
                pass
            try:
                answer = await asyncio.wait_for(reader.read(), timeout=10)
            except ConnectionError:  # closed with the rest of the line unread: a reset
                answer = b""
            writer.close()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                return answer, await client.get("/healthz")
        finally:
            await endpoint.close()

    with caplog.at_level(logging.DEBUG):
        answer, health = asyncio.run(scenario())
    assert answer == b"" and health.status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


# -- the real daemon, in this process, so a test can break what /healthz watches -------------

def _config(tmp: Path, site: Newsroom, *, port: int | None) -> Config:
    publish(site, [("old", "Old story", "Nothing to see.")])
    http = f'http: {{listen: "127.0.0.1:{port}"}}' if port is not None else ""
    (tmp / "monitor.yaml").write_text(f"""
database: monitor.db
defaults: {{every: 1h, timeout: 5s}}
sources:
  - {{id: desknews, url: "{site.url('/feed.xml')}"}}
{http}
""")
    return load_config(tmp / "monitor.yaml")


def _on_a_free_port(run: Callable[[int], T], *, attempts: int = 5) -> T:
    """``run(port)`` on a port free a moment ago, and on another if something took it in between."""
    for _ in range(attempts - 1):
        try:
            return run(free_port())
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    return run(free_port())


@asynccontextmanager
async def _running(config: Config, caplog: pytest.LogCaptureFixture) -> AsyncIterator[service.Daemon]:
    """A started daemon (endpoint up, if any) whose first poll has committed; stopped on exit."""
    caplog.set_level(logging.INFO)
    earlier = len(caplog.records)

    def started() -> bool:
        messages = [record.getMessage() for record in caplog.records[earlier:]]
        return (any(m.startswith("daemon started") for m in messages)
                and any(m.startswith("poll source=desknews") for m in messages))

    daemon = service.Daemon(config)
    task = asyncio.create_task(daemon.run())
    try:
        assert await until(lambda: task.done() or started()), caplog.text
        if task.done():
            await task  # a daemon that could not start raises why (its port taken, say)
        assert not task.done(), caplog.text
        yield daemon
    finally:
        daemon.stop()
        await asyncio.wait_for(task, timeout=30)


def _healthz_while(tmp: Path, caplog: pytest.LogCaptureFixture,
                   fault: Callable[[service.Daemon], Callable[[], None]]) -> list[httpx.Response]:
    """/healthz of a running daemon before ``fault`` breaks it, while broken, and after the
    undo function that ``fault`` returns has mended it."""
    async def scenario(config: Config, port: int) -> list[httpx.Response]:
        async with _running(config, caplog) as daemon, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            before = await client.get("/healthz")
            undo = fault(daemon)
            broken = await client.get("/healthz")
            undo()
            return [before, broken, await client.get("/healthz")]

    with serve_newsroom() as site:
        return _on_a_free_port(lambda port: asyncio.run(scenario(_config(tmp, site, port=port), port)))


def test_daemon_healthz_is_503_when_the_scheduler_stops(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A daemon whose scheduler has shut down answers /healthz 503 saying so, and 200 once it runs again."""
    def stop_scheduler(daemon: service.Daemon) -> Callable[[], None]:
        daemon.scheduler.shutdown(wait=False)
        return lambda: daemon.scheduler.start()  # run() pauses it on the way out, which a stopped one refuses

    before, broken, after = _healthz_while(tmp_path, caplog, stop_scheduler)
    assert before.status_code == 200 and after.status_code == 200
    assert broken.status_code == 503 and broken.text == "unhealthy: the scheduler is not running\n"


def test_daemon_healthz_is_503_when_the_database_does_not_answer(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A daemon whose database fails the health query answers /healthz 503 with SQLite's error,
    and 200 once the database answers again."""
    def run_sql(database: Path, sql: str) -> None:
        with closing(sqlite3.connect(database)) as other:
            other.execute(sql)

    def break_database(daemon: service.Daemon) -> Callable[[], None]:
        # Another connection takes away the table the health query reads: a real SQLite error.
        database = daemon.config.database
        run_sql(database, "ALTER TABLE sources RENAME TO sources_away")
        return lambda: run_sql(database, "ALTER TABLE sources_away RENAME TO sources")

    before, broken, after = _healthz_while(tmp_path, caplog, break_database)
    assert before.status_code == 200 and after.status_code == 200
    assert broken.status_code == 503
    assert broken.text == "unhealthy: database does not answer: no such table: sources\n"


def _listening_ports() -> set[int]:
    """Local ports of the TCP sockets this process listens on, read from Linux's /proc."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:] if table.exists() else []:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def _ports_while_running(config: Config, caplog: pytest.LogCaptureFixture) -> set[int]:
    async with _running(config, caplog):
        return _listening_ports()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from Linux's /proc")
def test_daemon_without_http_listens_on_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Without `http:` in the config the daemon opens no listening socket (with it, exactly its port)."""
    with serve_newsroom() as site:
        def ports_with_http(port: int) -> tuple[int, set[int]]:
            return port, asyncio.run(_ports_while_running(_config(tmp_path, site, port=port), caplog))

        idle = _listening_ports()
        port, with_http = _on_a_free_port(ports_with_http)
        # A database of its own: restarted on the first one, the daemon would wait for the
        # source's own time in its hour (dispatch.spread) before polling it again.
        (tmp_path / "without").mkdir()
        without = asyncio.run(_ports_while_running(_config(tmp_path / "without", site, port=None), caplog))
    # New listeners only: one a server of an earlier test closes meanwhile is not the daemon's doing.
    assert with_http - idle == {port}, "the probe sees the endpoint when there is one"
    assert without - idle == set()
    assert caplog.text.count("http listening") == 1


def test_a_listen_address_in_use_is_a_message_and_exit_2(tmp_path: Path) -> None:
    """`monitor run` with http.listen on a port another process holds says so in one line and exits 2,
    before any poll; it printed a 40-line traceback and exited 1, a poll dying beside it."""
    import socket

    with socket.socket() as taken, serve_newsroom() as site:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        publish(site, [("talks", "Talks held", "ISAF commanders met.")])
        config = tmp_path / "monitor.yaml"
        config.write_text(f"database: monitor.db\nhttp: {{listen: '127.0.0.1:{port}'}}\n"
                          f"sources:\n  - {{id: news, url: '{site.url('/feed.xml')}'}}\n")
        done = subprocess.run([sys.executable, "-m", "monitor", "run", "-c", str(config)], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
        requests = list(site.requests)
    assert done.returncode == 2, done.stderr
    assert f"monitor run: http.listen 127.0.0.1:{port}: cannot listen there" in done.stderr
    assert "Traceback" not in done.stderr and requests == []


def test_daemon_healthz_is_503_while_its_database_file_is_gone(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``rm monitor.db*`` under a running daemon: SQLite writes on to the open, unlinked file,
    and everything stored from then on would be lost at the next start. /healthz says so;
    a file back in its place (the same one, moved back) is healthy again."""
    def remove_database(daemon: service.Daemon) -> Callable[[], None]:
        database = daemon.config.database
        away = database.with_name("moved-away.db")
        database.rename(away)
        return lambda: away.rename(database)

    before, broken, after = _healthz_while(tmp_path, caplog, remove_database)
    assert before.status_code == 200 and after.status_code == 200
    assert broken.status_code == 503
    assert broken.text.startswith("unhealthy: database file ") and "is gone" in broken.text
