"""What a reloader compares to see an edit: a file's mtime, and what a glob matches.

Shared by the loader, which stamps each glob as it reads the files it matched, and the
daemon, which stamps the running config's files and globs every few seconds.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable
from pathlib import Path

GlobStamp = tuple[tuple[str, int], ...]  # (path, mtime in ns) of each file a glob matches, in path order


def file_stamp(path: Path) -> int:
    """The file's mtime in ns, or -1 if it cannot be read (gone, say): a change either way."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def glob_stamp(pattern: str) -> GlobStamp:
    """The regular files ``pattern`` matches (``**`` included), each with its mtime: a file
    added, removed or saved changes it. Only files: the loader takes nothing else."""
    return tuple(_regular(sorted(glob.glob(pattern, recursive=True))))


def _regular(paths: Iterable[str]) -> Iterable[tuple[str, int]]:
    for path in paths:
        try:
            found = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(found.st_mode):
            yield path, found.st_mtime_ns
