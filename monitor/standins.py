"""An environment with stand-ins for variables that are not set: its own module, so that the
command line can name it without loading the config reader (`monitor --help` stays fast)."""

from __future__ import annotations

from collections.abc import Mapping


class StandIns(Mapping[str, str]):
    """An environment where a variable that is not set reads as a stand-in; ``part`` is the
    stand-in for a variable that is only part of a value, as in a URL's password."""

    def part(self, name: str) -> str:
        raise NotImplementedError
