"""The docs are checked: every config key is in the reference, every channel example parses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import apprise
import pytest
import yaml

from monitor.config import load_config
from monitor.config.json_schema import monitor_schema, watchlist_schema
from monitor.notify.plugins import register_console

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

# Each object of the schema -> the sections of configuration.md whose tables document its keys.
SECTIONS = {
    "(top level)": ["Top level"],
    "Defaults": ["`defaults` (and per-source overrides)"],
    "Source": ["`sources[]`", "`defaults` (and per-source overrides)"],
    "Selectors": ["`select`"],
    "InlineWatchList": ["Watch lists"],
    "(watch-list file)": ["Watch lists"],
    "HttpConfig": ["`http`"],
    "HealthConfig": ["`health`"],
    "ChannelConfig": ["`channels`"],
    "DeliveryConfig": ["`delivery`"],
    "DigestConfig": ["`digest`"],
    "StoriesConfig": ["`stories`"],
}


def _sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^#{2,3} (.+)$", markdown, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def _documented_keys(body: str) -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.MULTILINE))


def _objects() -> list[tuple[str, list[str]]]:
    main = monitor_schema()
    objects = [("(top level)", list(main["properties"])), ("(watch-list file)", list(watchlist_schema()["properties"]))]
    objects += [(name, list(d["properties"])) for name, d in main["$defs"].items() if "properties" in d]
    return objects


@pytest.mark.parametrize(("name", "keys"), _objects(), ids=[n for n, _ in _objects()])
def test_every_config_key_is_documented(name: str, keys: list[str]) -> None:
    """Each key the schema accepts has a row in the matching table of docs/configuration.md."""
    assert name in SECTIONS, f"the config has a new part {name!r}: give it a section in docs/configuration.md " \
                             "and name that section in SECTIONS here"
    sections = _sections((DOCS / "configuration.md").read_text())
    documented: set[str] = set()
    for title in SECTIONS[name]:
        assert title in sections, f"docs/configuration.md has no section '{title}'"
        documented |= _documented_keys(sections[title])
    missing = [key for key in keys if key not in documented]
    assert not missing, f"docs/configuration.md does not document {name} keys: {', '.join(missing)}"


def test_reference_documents_no_key_that_does_not_exist() -> None:
    """Every key in a reference table is one the config accepts (no stale rows)."""
    sections = _sections((DOCS / "configuration.md").read_text())
    known = {key for _, keys in _objects() for key in keys}
    stale = {key for body in sections.values() for key in _documented_keys(body)} - known
    assert not stale, f"docs/configuration.md documents keys the config does not have: {sorted(stale)}"


def _channel_examples() -> dict[str, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", (DOCS / "channels.md").read_text(), flags=re.DOTALL)
    channels: dict[str, Any] = {}
    for block in blocks:
        value = yaml.safe_load(block)
        if isinstance(value, dict) and "${" not in block:
            channels.update(value.get("channels", {}))
    return channels


SERVICES = {"NotifyEmail", "NotifySlack", "NotifyTelegram", "NotifyDiscord", "NotifyMatrix", "NotifyNtfy",
            "NotifyJSON"}


def test_channel_examples_are_urls_apprise_understands() -> None:
    """Every apprise URL in docs/channels.md parses (no network), covering the services the page promises."""
    services: set[str] = set()
    register_console()  # console:// is among the examples
    for name, urls in _channel_examples().items():
        for url in [urls] if isinstance(urls, str) else urls:
            loaded = apprise.Apprise()
            assert loaded.add(url), f"docs/channels.md: {name}: apprise does not understand {url}"
            services.update(type(plugin).__name__ for plugin in loaded)
    assert SERVICES <= services, f"docs/channels.md lacks examples for {sorted(SERVICES - services)}"


def test_channel_examples_validate_as_config(tmp_path: Path) -> None:
    """The channel examples, put in a monitor.yaml, pass `monitor validate`'s checks."""
    config = tmp_path / "monitor.yaml"
    config.write_text(yaml.safe_dump({"channels": _channel_examples()}))
    assert set(load_config(config).channels) == set(_channel_examples())


@pytest.mark.parametrize("page", ["configuration.md", "channels.md", "troubleshooting.md"])
def test_doc_pages_link_to_pages_that_exist(page: str) -> None:
    """Relative links between doc pages point at files that exist."""
    for target in re.findall(r"\]\(([^):#]+\.md)\)", (DOCS / page).read_text()):
        assert (DOCS / target).exists(), f"docs/{page} links to missing {target}"
