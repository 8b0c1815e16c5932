"""What Linux's /proc says about the processes a test started: their children, and
whether one still runs (a zombie waiting for its reaper has ended)."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> set[int]:
    """The live children of ``pid`` (of any of its threads)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(child) for child in task.read_text().split())
        except OSError:
            continue  # the thread or the process ended meanwhile
    return found


def alive(pid: int) -> bool:
    """Running, not ended (gone, or a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
