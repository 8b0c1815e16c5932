"""Secrets from ${ENV} never reach output: every channel and source path fails, and all output is grepped."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
import yarl

from monitor.redact import redact, remember
from tests.faultserver import serve_faults
from tests.newsroom_pages import rss_feed, when
from tests.servers import Mailbox, WebhookReceiver, free_port, serve_newsroom, serve_smtp, serve_webhook
from tests.test_daemon import Daemon, wait_for

pytestmark = pytest.mark.slow

SECRETS = {
    # @ and / are what URL libraries percent-encode in the errors and log lines they write.
    "PM_HOOK_TOKEN": "hooktoken@Zq/81xT",
    "PM_MAIL_PASSWORD": "mailpass-Kd29wR",
    "PM_FEED_KEY": "feedkey@Vb/47nM",
    "PM_GONE_TOKEN": "gonetoken-Hs63pL",
    # A space too: no URL in a config may hold one, so this one only ever meets the refusal.
    "PM_SPACED_KEY": "spaced key@Rt/58jW",
}


@dataclass
class Setup:
    tmp: Path
    config: Path
    hook: WebhookReceiver
    mail: Mailbox

    def monitor(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "monitor", "--log-format", "text", *args, "-c", str(self.config)],
                              capture_output=True, text=True, timeout=60, cwd=self.tmp,
                              env={**os.environ, **SECRETS})


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """Every channel refuses or is unreachable, and every source fails, each with a secret in its URL."""
    with serve_newsroom() as site, serve_faults(b"") as faults, serve_webhook() as hook, serve_smtp() as mail:
        site.publish("/feed.xml", rss_feed(base=site.base_url, items=[
            ("/news/1", "ISAF talks", "ISAF commanders met.", when(20))]), "application/rss+xml")
        hook.refuse = mail.refuse = True
        (tmp_path / "watchlists").mkdir()
        (tmp_path / "watchlists" / "desk.yaml").write_text(
            "name: desk\nkeywords: [ISAF]\nnotify: [chat, email, gone]\n")
        config = tmp_path / "monitor.yaml"
        config.write_text(f"""
database: monitor.db
defaults: {{every: 1s, timeout: 2s, backfill: true}}
channels:
  chat: "json://127.0.0.1:{hook.port}/hook?token=${{PM_HOOK_TOKEN}}"
  email: "mailto://desk:${{PM_MAIL_PASSWORD}}@127.0.0.1:{mail.port}?from=monitor@example.org&to=desk@example.org"
  gone: "json://127.0.0.1:{free_port()}/x?token=${{PM_GONE_TOKEN}}"
health: chat
sources:
  - {{id: good, url: "{site.url('/feed.xml')}?key=${{PM_FEED_KEY}}"}}
  - {{id: broken, url: "{faults.url('/status/500')}?key=${{PM_FEED_KEY}}"}}
  - {{id: hanging, url: "{faults.url('/hang')}?key=${{PM_FEED_KEY}}"}}
  - {{id: refused, url: "http://127.0.0.1:{free_port()}/feed?key=${{PM_FEED_KEY}}"}}
  - {{id: notfeed, url: "{faults.url('/page')}?key=${{PM_FEED_KEY}}", kind: feed}}
  - {{id: looping, url: "{faults.url('/loop/a')}?key=${{PM_FEED_KEY}}"}}
  - {{id: sloppy, url: "{faults.url('/bad-utf8')}?key=${{PM_FEED_KEY}}"}}
watchlists: ["watchlists/*.yaml"]
""")
        yield Setup(tmp=tmp_path, config=config, hook=hook, mail=mail)


def written_forms(value: str) -> set[str]:
    """A secret as written raw, fully percent-encoded, as a path, as a form value, and as httpx
    (space only) and yarl (space as +) leave it in a query."""
    return {value, quote(value, safe=""), quote(value), quote_plus(value), value.replace(" ", "%20"),
            value.replace(" ", "+")}


def leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if any(form in text for form in written_forms(value))]


def test_no_secret_in_any_output_of_any_command(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """validate, once, test-notify and run, with every source and channel failing, never print a secret;
    nor do the errors they store."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)  # for the daemon, which inherits os.environ
    outputs: dict[str, str] = {}
    for name, args in {"validate": ["validate"], "once": ["once"], "test-notify": ["test-notify", "chat"]}.items():
        done = setup.monitor(*args)
        outputs[name] = done.stdout + done.stderr
    assert "broken" in outputs["once"] and "HTTP 500" in outputs["once"], outputs["once"]

    # A database of its own, so the daemon's first alerts are due at once (once's wait to retry).
    run_config = setup.tmp / "run.yaml"
    run_config.write_text(setup.config.read_text().replace("database: monitor.db", "database: run.db"))
    daemon = Daemon(run_config, setup.tmp / "daemon.log")
    try:
        assert wait_for(lambda: "delivery channel=email" in daemon.output()
                        and "delivery channel=gone" in daemon.output()
                        and daemon.output().count("poll source=broken") >= 2), daemon.output()
    finally:
        assert daemon.stop() == 0
    outputs["run"] = daemon.output()

    invalid = {"every": ("every: 1s", "every: '${PM_FEED_KEY}'", "${PM_FEED_KEY}"),
               "spaced-url": ("?key=${PM_FEED_KEY}", "?key=${PM_SPACED_KEY}", "${PM_SPACED_KEY}")}
    for name, (before, after, shown) in invalid.items():
        bad = setup.tmp / f"bad-{name}.yaml"
        bad.write_text(setup.config.read_text().replace(before, after))
        done = subprocess.run([sys.executable, "-m", "monitor", "validate", "-c", str(bad)], capture_output=True,
                              text=True, timeout=60, cwd=setup.tmp, env={**os.environ, **SECRETS})
        outputs[f"validate-invalid-{name}"] = out = done.stdout + done.stderr
        assert done.returncode == 2 and shown in out, out

    # A malformed feed's warning quotes its URL; status shows warnings.
    for name, args in {"status": ["status"], "status-json": ["status", "--json"]}.items():
        done = setup.monitor(*args)
        outputs[name] = done.stdout + done.stderr
    assert "sloppy" in outputs["status"] and "not well-formed" in outputs["status"], outputs["status"]

    for database in ("monitor.db", "run.db"):
        conn = sqlite3.connect(setup.tmp / database)
        try:
            outputs[f"{database} errors"] = "\n".join(str(row) for query in (
                "SELECT last_error, warnings FROM sources", "SELECT last_error FROM outbox",
                "SELECT fetch_error FROM items",
                "SELECT message, last_error FROM health_events") for row in conn.execute(query))
        finally:
            conn.close()
    found = {name: leaks(text) for name, text in outputs.items() if leaks(text)}
    assert found == {}, {name: outputs[name][:3000] for name in found}


def test_percent_encoded_forms_of_a_secret_are_redacted() -> None:
    """A secret with a space, @ and / is redacted however a URL library encoded it in a message."""
    value = "redact me@Pq/73 zX"
    remember({value: "PM_UNIT_SECRET"})
    url = f"http://127.0.0.1:9/feed/{value}?key={value}"
    messages = [f"{form} failed" for form in written_forms(value)] + [
        f"GET {httpx.URL(url)} failed", f"GET {yarl.URL(url)} failed"]
    assert [m for m in messages if any(form in redact(m) for form in written_forms(value))] == []
    assert all("${PM_UNIT_SECRET}" in redact(m) for m in messages)


@pytest.mark.parametrize("value", ["abcd+ef gh", "tok[en]|x y", "p\u00e4ss w0rd", "50% off{now}"])
def test_secrets_are_redacted_as_the_http_libraries_write_them(value: str) -> None:
    """Whatever characters a secret holds, the form httpx or yarl writes it in (path or query) is redacted."""
    remember({value: "PM_ODD_SECRET"})
    for make in (httpx.URL, yarl.URL):
        for url in (f"http://127.0.0.1:9/feed?key={value}", f"http://127.0.0.1:9/{value}/feed"):
            written = str(make(url))
            assert redact(f"GET {written} failed").count("${PM_ODD_SECRET}") == 1, written


@pytest.mark.parametrize("value", ['s3cr"et\\pw', "tab\tin it", "line\nbreak"])
def test_a_secret_json_would_escape_is_redacted_in_json_log_lines(value: str) -> None:
    """The daemon logs JSON lines (stderr not a terminal): a ``"``, ``\\`` or control
    character in a secret is escaped there, and redacting the finished line missed it."""
    import io
    import json
    import logging

    from monitor.logs import JsonFormatter
    from monitor.redact import RedactingFormatter

    remember({value: "PM_JSON_SECRET"})
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(RedactingFormatter(JsonFormatter()))
    logger = logging.getLogger("tests.json-secret")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"refused {value}")
        except ValueError:
            logger.exception("poll source=a url=http://x/?key=%s failed", value)
    finally:
        logger.removeHandler(handler)
    line = json.loads(out.getvalue())
    assert value not in line["message"] + line["exception"]
    assert "${PM_JSON_SECRET}" in line["message"] and "${PM_JSON_SECRET}" in line["exception"]


def test_the_reading_commands_need_no_secret_and_the_fetching_ones_do(tmp_path: Path) -> None:
    """An operator's shell seldom holds the daemon's secrets (systemd's EnvironmentFile):
    `monitor status` reads the database, takes an unset ${NAME} whether it is a token or a
    whole URL or a password in one, and does not have apprise judge the channels (a typo'd scheme too); `monitor
    check` fetches the source, so it still says the variable is not set (exit 2)."""
    import os
    import subprocess
    import sys

    from monitor.store import Store

    (tmp_path / "monitor.yaml").write_text(
        'database: monitor.db\nchannels: {chat: "json://127.0.0.1:9/hook?token=${PM_UNSET_TOKEN}",'
        ' ops: "${PM_UNSET_APPRISE_URL}", typo: "slak://x"}\n'
        'sources: [{id: api, url: "https://api.example/feed?key=${PM_UNSET_KEY}"},'
        ' {id: whole, url: "${PM_UNSET_FEED}"}, {id: login, url: "https://desk:${PM_UNSET_PW}@api.example/f"}]\n'
        'watchlists: [{name: desk, keywords: [ISAF], notify: [chat, ops]}]\n')
    Store(tmp_path / "monitor.db").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_UNSET")}

    def monitor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "monitor", *args, "-c", "monitor.yaml"], cwd=tmp_path,
                              capture_output=True, text=True, env=env, timeout=60)

    status = monitor("status")
    assert status.returncode == 0 and "api" in status.stdout, status
    check = monitor("check", "api")
    assert check.returncode == 2 and "${PM_UNSET_KEY} is not set" in check.stderr, check
