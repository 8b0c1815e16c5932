"""monitor.notify.plugins: the daemon loads only the apprise plugins its channels use.

Each check runs in a fresh interpreter: the test process itself has every plugin loaded
(conftest), as any process that never narrows them does."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from monitor.config.apart import load_config_apart
    from monitor.notify.deliver import Target
    config = load_config_apart(Path(sys.argv[1]))
    targets = [Target(name, i, url) for name, urls in config.channels.items() for i, url in enumerate(urls)]
    plugins = sorted({m.split(".")[2] for m in sys.modules if m.startswith("apprise.plugins.")})
    print(json.dumps({"valid": [t.valid for t in targets], "services": [t.service for t in targets],
                      "plugins": plugins, "requests": "requests" in sys.modules}))
""")


def probe(tmp_path: Path, channels: str) -> dict[str, object]:
    config = tmp_path / "monitor.yaml"
    config.write_text(f"""
database: monitor.db
channels: {channels}
sources: [{{id: ispr, url: "https://ispr.example/feed"}}]
watchlists: [{{name: desk, keywords: [ISAF], notify: [{channels.split(':')[0].strip('{ ')}]}}]
""")
    done = subprocess.run([sys.executable, "-c", PROBE, str(config)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_the_daemon_loads_only_the_plugins_of_its_channels(tmp_path: Path) -> None:
    got = probe(tmp_path, '{desk: ["json://127.0.0.1:9/", "mailtos://user:pw@mail.example"], log: "console://"}')
    assert got["valid"] == [True, True, True]
    assert got["plugins"] == ["base", "custom_json", "email"]  # base: the class every plugin derives from
    assert got["services"][2] == "press-monitor console"


def test_webhook_urls_given_as_they_are_load_their_plugins(tmp_path: Path) -> None:
    """An https:// Slack or Discord webhook URL has no scheme of its own: the plugin whose
    native URL it is must still be loaded (the URLs of docs/channels.md)."""
    got = probe(tmp_path, '{desk: ["https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",'
                          ' "https://discord.com/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"]}')
    assert got["valid"] == [True, True]
    assert got["plugins"] == ["base", "discord", "slack"]


def test_a_console_only_daemon_loads_no_plugin_module(tmp_path: Path) -> None:
    got = probe(tmp_path, '{desk: "console://"}')
    assert got["valid"] == [True] and got["plugins"] == ["base"] and got["requests"] is False


def test_a_reload_through_the_config_child_loads_the_new_channels_plugins(tmp_path: Path) -> None:
    """The daemon's reload path end to end: started narrowed to json://, a reload whose
    config adds Telegram and a Discord webhook URL leaves every target valid."""
    config = tmp_path / "monitor.yaml"
    config.write_text("""
database: monitor.db
channels:
  desk: ["json://127.0.0.1:9/", "tgram://123456789:abcdefg_hijklmnop/12315544/",
         "https://discord.com/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"]
sources: [{id: ispr, url: "https://ispr.example/feed"}]
watchlists: [{name: desk, keywords: [ISAF], notify: [desk]}]
""")
    code = textwrap.dedent("""
        import asyncio, sys
        from pathlib import Path
        from monitor.config.apart import reload_config_apart
        from monitor.notify import plugins
        from monitor.notify.deliver import Target
        plugins.use_only(["custom_json"])  # as start-up left it
        config = asyncio.run(reload_config_apart(Path(sys.argv[1])))
        print([Target(n, i, u).valid for n, urls in config.channels.items() for i, u in enumerate(urls)])
    """)
    done = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=90,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "[True, True, True]"


def test_a_scheme_added_by_a_reload_is_loaded_then(tmp_path: Path) -> None:
    """use_only adds modules to a narrowed apprise: a reload's new channel works."""
    code = textwrap.dedent("""
        from monitor.notify import plugins
        from monitor.notify.deliver import Target
        plugins.use_only(["custom_json"])
        before = Target("a", 0, "tgram://123456789:abcdefg_hijklmnop/12315544/").valid
        plugins.use_only(["custom_json", "telegram"])
        print(before, Target("a", 0, "tgram://123456789:abcdefg_hijklmnop/12315544/").valid,
              Target("b", 0, "json://127.0.0.1:9/").valid)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True"]
