"""The HTTP endpoint: /healthz and /metrics, against a running daemon and on its own."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from monitor.endpoint import Endpoint
from tests.servers import free_port, serve_newsroom, serve_webhook
from tests.test_daemon import Daemon, publish, wait_for


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
            assert 'monitor_poll_duration_seconds_count{source="desknews"}' in text
            assert 'monitor_alerts_queued{channel="chat"} 0.0' in text
            assert 'monitor_source_consecutive_failures{source="desknews"} 0.0' in text
            assert _get(f"{base}/nothing").status_code == 404  # type: ignore[union-attr]
            status = subprocess.run([sys.executable, "-m", "monitor", "status", "--json", "-c",
                                     str(tmp_path / "monitor.yaml")], capture_output=True, text=True, timeout=60)
            assert status.returncode == 0, status.stderr
            source = json.loads(status.stdout)["sources"][0]
            assert source["items"] == 2 and source["next_poll_at"] is not None, "status reads the live database"
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
