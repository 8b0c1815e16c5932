"""The container and service files: a non-root, health-checked image; a sandboxed systemd unit."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "contrib" / "press-monitor.service"


def _unit() -> configparser.RawConfigParser:
    # systemd allows repeated keys (SystemCallFilter=); the last one is enough to check presence.
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_restarts_on_failure_and_runs_the_daemon() -> None:
    """The unit runs `monitor ... run` and restarts it when it fails."""
    service = _unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert re.search(r"/monitor( .*)? run$", service["ExecStart"])
    assert "network-online.target" in _unit()["Unit"]["After"]
    assert _unit()["Install"]["WantedBy"] == "multi-user.target"
    # The stop signal goes to the daemon, which ends its page workers after the polls in flight.
    assert service["KillMode"] == "mixed"


def test_unit_is_sandboxed() -> None:
    """A dynamic user, a read-only system, a private state directory, no privileges to gain."""
    service = _unit()["Service"]
    expected = {"DynamicUser": "yes", "ProtectSystem": "strict", "StateDirectory": "press-monitor",
                "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": ""}
    assert {key: service.get(key) for key in expected} == expected
    assert service["WorkingDirectory"] == "/var/lib/press-monitor"


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd-analyze (where installed) finds no unknown key or bad value in the unit."""
    analyze = shutil.which("systemd-analyze")
    monitor = shutil.which("monitor") or str(Path(REPO / ".venv" / "bin" / "monitor"))
    if analyze is None or not Path(monitor).exists():
        pytest.skip("systemd-analyze or the monitor script is not installed here")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace("/opt/press-monitor/bin/monitor", monitor))
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and UNIT.name not in result.stderr, result.stderr


def _instructions() -> list[tuple[str, str]]:
    lines = (REPO / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    return [(line.split()[0].upper(), line.split(None, 1)[1]) for line in lines
            if line.strip() and not line.startswith("#")]


def test_image_is_pinned_non_root_with_volumes_and_a_healthcheck() -> None:
    """The base image is pinned to a patch release; the daemon runs as a non-root uid with /data and
    /config as volumes and a HEALTHCHECK that asks /healthz."""
    found = _instructions()
    base = next(arg for op, arg in found if op == "FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base)
    user = [arg for op, arg in found if op == "USER"][-1]
    assert user not in ("root", "0")
    assert all(v in next(arg for op, arg in found if op == "VOLUME") for v in ('"/data"', '"/config"'))
    assert '"monitor", "health"' in next(arg for op, arg in found if op == "HEALTHCHECK")


def test_compose_example_mounts_config_and_data() -> None:
    """docker-compose.yml builds this image with the config read-only and the database on a volume."""
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["monitor"]
    assert service["build"] == "."
    assert "./config:/config:ro" in service["volumes"]
    assert any(v.endswith(":/data") for v in service["volumes"])
    assert service["restart"] == "unless-stopped"
