"""Run a command with its stderr on a pseudo-terminal, as a user at a shell would see it."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def on_terminal(command: list[str], cwd: Path, *, timeout: float = 60) -> tuple[int, bytes, str]:
    """Run ``command`` with stderr on a pty and stdout on a pipe: (exit code, stdout, what the terminal showed)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=child, cwd=cwd)
    os.close(child)
    terminal = _drain(main).decode("utf-8", "replace")
    os.close(main)
    code = proc.wait(timeout=timeout)
    assert proc.stdout is not None
    return code, proc.stdout.read(), terminal
