"""What a reloader compares to see an edit: the mtimes of the files one read of the config
took in, and what each of its globs matched.

The loader stamps each file and glob as it reads it, and hands the stamps over with the
config, or with the ConfigError of a config it rejected. The daemon takes them again every
few seconds for the same files and patterns; once they differ, something that read took
in was edited, or a glob matches another file, and it reads the config again.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

GlobStamp = tuple[tuple[str, int], ...]  # (path, mtime in ns) of each file a glob matches, in path order


@dataclass(frozen=True)
class Stamps:
    """One read's view: ``files`` each with its mtime (-1: it could not be read), and
    ``globs``, each absolute pattern with what it matched."""

    files: tuple[tuple[Path, int], ...] = ()
    globs: tuple[tuple[str, GlobStamp], ...] = ()

    def again(self) -> Stamps:
        """The same files and patterns stamped now (a walk of each glob's tree: not on the event loop)."""
        return Stamps(files=tuple((path, file_stamp(path)) for path, _ in self.files),
                      globs=tuple((pattern, glob_stamp(pattern)) for pattern, _ in self.globs))


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
