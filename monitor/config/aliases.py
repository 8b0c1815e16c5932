"""Shared aliases: a name for a set of spellings, written once and used in any watch list.

The config's top-level ``aliases:`` is a file (or a list of files, relative to the config,
globs allowed) or an inline mapping. Each maps a name to its spellings:

    kayani: [Kayani, Kiyani, "Gen. Kayani", /kay+ani/]
    ispr: [ISPR, "Inter-Services Public Relations", آئی ایس پی آر]

A watch-list term then writes ``@kayani`` for any of them (see ``monitor.watchlang``).
Names are case-insensitive; each is defined once across all files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.config.translate import kind_of
from monitor.config.yamldoc import Document, FieldPath
from monitor.match import atom_problem
from monitor.watchlang import ALIAS_NAME, variant_problem

Aliases = dict[str, tuple[str, ...]]


class AliasTable:
    """Collects aliases from one or more documents, recording each problem in its document."""

    def __init__(self) -> None:
        self.aliases: Aliases = {}
        self._where: dict[str, str] = {}

    def add(self, doc: Document, at: FieldPath, raw: Any) -> None:
        """Add the mapping ``raw`` found at ``at`` in ``doc`` (a whole alias file, or inline)."""
        if not isinstance(raw, dict):
            doc.problem(at, f"got {kind_of(raw)} (expected a mapping of alias name: [spellings])")
            return
        for name, value in raw.items():
            path = (*at, name)
            variants = self._variants(doc, path, value)
            if not ALIAS_NAME.fullmatch(name):
                doc.problem(path, f"{name!r} is not an alias name (expected letters, digits, - and _, like kayani)")
                continue
            key = name.lower()
            if key in self._where:
                doc.problem(path, f"duplicate alias {name!r} (expected each name once; {self._where[key]} has it too)")
                continue
            self._where[key] = f"{doc.file}:{doc.line(path)}"
            if variants is not None:
                self.aliases[key] = variants

    def _variants(self, doc: Document, path: FieldPath, value: Any) -> tuple[str, ...] | None:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            got = "an empty list" if isinstance(items, list) else kind_of(value)
            doc.problem(path, f"got {got} (expected a list of spellings, like [Kayani, Kiyani])")
            return None
        out: list[str] = []
        for i, item in enumerate(items):
            where: FieldPath = path if isinstance(value, str) else (*path, i)
            problem = _problem(item, variant_problem, atom_problem)
            if problem is not None:
                doc.problem(where, problem)
                return None
            out.append(item.strip())
        return tuple(dict.fromkeys(out))


def _problem(item: Any, *checks: Callable[[str], str | None]) -> str | None:
    if not isinstance(item, str):
        return f"got {kind_of(item)} (expected a spelling: a word, a phrase or a /regular expression/)"
    for check in checks:
        problem = check(item)
        if problem is not None:
            return problem
    return None
