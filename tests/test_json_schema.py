"""The JSON Schema shipped for editors: generated from the config models and used by the examples."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config.json_schema import dumps, monitor_schema, watchlist_schema

REPO = Path(__file__).resolve().parents[1]
SHIPPED = {"monitor.schema.json": monitor_schema, "watchlist.schema.json": watchlist_schema}
REGENERATE = "regenerate it with `make schema`"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SHIPPED[name]())


def _errors(name: str, document: Any) -> list[str]:
    return [e.message for e in _validator(name).iter_errors(document)]


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_schema_equals_the_generated_one(name: str) -> None:
    """schema/*.json is exactly what the config models generate today."""
    assert (REPO / "schema" / name).read_text() == dumps(SHIPPED[name]()), f"schema/{name} is stale; {REGENERATE}"


def test_schema_command_prints_the_monitor_schema() -> None:
    """`monitor schema` prints the shipped monitor.yaml schema."""
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0 and result.output == (REPO / "schema" / "monitor.schema.json").read_text()


def test_schema_command_prints_the_watchlist_schema() -> None:
    """`monitor schema --watchlist` prints the shipped watch-list schema."""
    result = CliRunner().invoke(main, ["schema", "--watchlist"])
    assert result.exit_code == 0 and result.output == (REPO / "schema" / "watchlist.schema.json").read_text()


def test_generated_schemas_are_valid_json_schema() -> None:
    """Both schemas are themselves valid draft 2020-12 schemas."""
    for generate in SHIPPED.values():
        jsonschema.Draft202012Validator.check_schema(generate())


def _examples() -> list[tuple[Path, str]]:
    files = [(REPO / "config" / "monitor.yaml", "monitor.schema.json")]
    files += [(p, "watchlist.schema.json") for p in sorted((REPO / "config" / "watchlists").glob("*.yaml"))]
    return files


@pytest.mark.parametrize(("path", "name"), _examples(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_example_files_point_at_and_satisfy_the_schema(path: Path, name: str) -> None:
    """Each example YAML names its schema in a yaml-language-server comment, and validates against it."""
    found = re.search(r"^# yaml-language-server: \$schema=(\S+)$", path.read_text(), re.MULTILINE)
    assert found, f"{path.name} has no yaml-language-server comment"
    assert (path.parent / found.group(1)).resolve() == REPO / "schema" / name
    assert _errors(name, yaml.safe_load(path.read_text())) == []


def test_durations_are_text_like_10m() -> None:
    """The schema takes durations as the config writes them (1h30m) and rejects '10 minutes'."""
    assert _errors("monitor.schema.json", {"defaults": {"every": "1h30m", "give_up": "3d"}}) == []
    assert _errors("monitor.schema.json", {"defaults": {"every": "10 minutes"}})
    assert _errors("monitor.schema.json", {"defaults": {"every": ""}})


def test_one_name_may_stand_for_a_list() -> None:
    """notify: desk is as good as notify: [desk]; an empty list is not."""
    assert _errors("watchlist.schema.json", {"keywords": "ISAF", "notify": "desk"}) == []
    assert _errors("watchlist.schema.json", {"keywords": ["ISAF"], "notify": ["desk"]}) == []
    assert _errors("watchlist.schema.json", {"keywords": ["ISAF"], "notify": []})


def test_schema_catches_typos_and_bad_values() -> None:
    """Unknown keys, an unknown source kind, a bad id and a missing url are schema errors."""
    source = {"id": "wire", "url": "https://news.test/feed"}
    assert _errors("monitor.schema.json", {"sources": [source], "http": {"listen": "127.0.0.1:9108"}}) == []
    assert _errors("monitor.schema.json", {"sourcse": []})
    assert _errors("monitor.schema.json", {"sources": [{**source, "kind": "rss"}]})
    assert _errors("monitor.schema.json", {"sources": [{**source, "id": "Wire News"}]})
    assert _errors("monitor.schema.json", {"sources": [{"id": "wire"}]})
    assert _errors("monitor.schema.json", {"watchlists": ["watchlists/*.yaml", {"keywords": ["x"], "notify": "d"}]})
