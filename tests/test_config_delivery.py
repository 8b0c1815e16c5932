"""Config for delivery: channel rate caps, per-channel delivery modes, templates, story window."""

from __future__ import annotations

import textwrap
from datetime import time, timedelta
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config
from monitor.service import delivery_modes

CONFIG = """\
timezone: Asia/Karachi
channels:
  chat:
    url: console://
    max_per_minute: 20
  mail: [console://, console://]
stories:
  window: 48h
sources:
  - id: ispr
    url: https://www.ispr.gov.pk/press-release
watchlists:
  - name: desk
    keywords: Kayani
    notify: [chat, mail]
    delivery:
      mail: {digest: {every: 1d, at: "08:00"}}
      chat: {quiet_hours: "22:00-07:00"}
    template: |
      {{ title }} ({{ source }})
      {{ url }}
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "monitor.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path, environ={})


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems]


def test_channel_mapping_gives_urls_and_a_rate_cap(tmp_path: Path) -> None:
    """A channel written as a mapping yields its URLs and max_per_minute; a list stays a list."""
    config = load(tmp_path, CONFIG)
    assert config.channels == {"chat": ("console://",), "mail": ("console://", "console://")}  # type: ignore[attr-defined]
    assert config.channel_limits == {"chat": 20}  # type: ignore[attr-defined]


def test_delivery_modes_and_story_window_are_read(tmp_path: Path) -> None:
    """Digest schedule, quiet hours and the story window come through as typed values."""
    config = load(tmp_path, CONFIG)
    modes = delivery_modes(config)  # type: ignore[arg-type]
    digest = modes[("desk", "mail")].digest
    quiet = modes[("desk", "chat")].quiet
    assert digest is not None and (digest.every, digest.at) == (timedelta(days=1), time(8, 0))
    assert quiet is not None and (quiet.start, quiet.end) == (time(22, 0), time(7, 0))
    assert config.story_window == timedelta(hours=48)  # type: ignore[attr-defined]


def test_unquoted_times_are_read_as_times(tmp_path: Path) -> None:
    """An unquoted 20:30 (a base-60 number to YAML 1.1) is still half past eight."""
    config = load(tmp_path, CONFIG.replace('at: "08:00"', "at: 20:30"))
    digest = delivery_modes(config)[("desk", "mail")].digest  # type: ignore[arg-type]
    assert digest is not None and digest.at == time(20, 30)


def test_delivery_problems_name_file_line_and_fix(tmp_path: Path) -> None:
    """Bad times, ranges, caps and channels are each reported at their line with what was expected."""
    text = (CONFIG.replace('at: "08:00"', 'at: "8am"').replace('"22:00-07:00"', '"22-07"')
            .replace("max_per_minute: 20", "max_per_minute: 0")
            .replace("      chat: {quiet", "      fax: {digest: {every: 1d}}\n      chat: {quiet"))
    assert problems(tmp_path, text) == [
        "monitor.yaml:5: channels.chat.max_per_minute: '0' is not a message count "
        "(expected a whole number of at least 1, like 20)",
        "monitor.yaml:17: watchlists[0].delivery.mail.digest.at: '8am' is not a time of day "
        "(expected a time of day as HH:MM, like 08:00)",
        "monitor.yaml:18: watchlists[0].delivery.fax: 'fax' is not a channel this watch list notifies "
        "(expected one of: chat, mail)",
        "monitor.yaml:19: watchlists[0].delivery.chat.quiet_hours: '22-07' is not a range of hours "
        "(expected HH:MM-HH:MM in the config's timezone, like 22:00-07:00)",
    ]


def test_a_template_with_an_unknown_variable_is_rejected(tmp_path: Path) -> None:
    """A template naming a variable that does not exist fails at load, listing the valid ones."""
    [problem] = problems(tmp_path, CONFIG.replace("{{ source }}", "{{ outlet }}"))
    assert problem.startswith("monitor.yaml:19: watchlists[0].template: is not a usable template")
    assert "'outlet' is undefined" in problem and "title, source, published, url" in problem


def test_a_template_that_reaches_for_internals_is_rejected(tmp_path: Path) -> None:
    """The sandbox refuses attribute access to Python internals, at load time."""
    [problem] = problems(tmp_path, CONFIG.replace("{{ source }}", "{{ title.__class__.__mro__ }}"))
    assert "unsafe" in problem


def test_a_template_that_raises_at_load_is_a_config_error(tmp_path: Path) -> None:
    """A template whose sample rendering raises a plain Python error is a FILE:LINE problem, not a crash."""
    [problem] = problems(tmp_path, CONFIG.replace("{{ source }}", '{{ "{a}".format() }}'))
    assert problem.startswith("monitor.yaml:19: watchlists[0].template: is not a usable template: rendering it "
                              "raised KeyError")


def test_a_channel_url_apprise_cannot_read_fails_validate_with_its_line(tmp_path: Path) -> None:
    """A mistyped scheme, a service URL missing its parts and a bare https:// address are
    refused by `monitor validate` (and so at start-up) with file, line and field, the
    token never printed; before, they passed and every alert waited in the outbox until give-up."""
    import os
    import subprocess
    import sys

    (tmp_path / "monitor.yaml").write_text(textwrap.dedent("""\
        channels:
          chat: "slak://T1JJ3T3L2/A1BRTD4JD/${PM_CHAT_TOKEN}"
          desk:
            url: ["console://", "tgram://"]
          hook: https://example.org/hook
          fine: json://127.0.0.1:9/
        sources:
          - {id: a, url: "https://a.example/feed.xml"}
        watchlists:
          - {name: w, keywords: [ISAF], notify: [chat, desk, hook, fine]}
        """))
    token = "TIiajkdnlazkcOXrIdevi7FQ"
    done = subprocess.run([sys.executable, "-m", "monitor", "validate", "-c", "monitor.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PM_CHAT_TOKEN": token}, timeout=60)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert [line.split(": ")[:2] for line in lines] == [
        ["monitor.yaml:2", "channels.chat"], ["monitor.yaml:4", "channels.desk.url[1]"],
        ["monitor.yaml:5", "channels.hook"]], lines
    assert "slak://" in lines[0] and "tgram://" in lines[1] and "json://" in lines[2]
    assert token not in done.stdout + done.stderr

