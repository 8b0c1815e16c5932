"""Run a command with its stderr on a pseudo-terminal, as a user at a shell would see it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import tempfile
import time
from pathlib import Path


def _drain(fd: int, deadline: float) -> bytes | None:
    """What the terminal shows until the child closes it; None if it is still open at ``deadline``."""
    chunks = []
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
    return None


def on_terminal(command: list[str], cwd: Path, *, timeout: float = 60) -> tuple[int, bytes, str]:
    """Run ``command`` with stderr on a pty and stdout to a file: (exit code, stdout, what the terminal showed).

    Raises subprocess.TimeoutExpired, the child killed, if it has not exited within ``timeout``."""
    deadline = time.monotonic() + timeout
    main, child = pty.openpty()
    # A file, not a pipe: a pipe nobody reads until exit fills at 64 KiB and stalls the child.
    with tempfile.TemporaryFile() as stdout:
        try:
            proc = subprocess.Popen(command, stdout=stdout, stderr=child, cwd=cwd)
        finally:
            os.close(child)
        try:
            terminal = _drain(main, deadline)
            if terminal is None:
                raise subprocess.TimeoutExpired(command, timeout)
            code = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        finally:
            os.close(main)
        stdout.seek(0)
        return code, stdout.read(), terminal.decode("utf-8", "replace")
