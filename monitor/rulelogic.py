"""A watch list's logic, compiled: which hits make it fire (a pure stage used by ``monitor.match``).

The scan finds hits of every spelling at once; this module then judges each candidate
rule on those hits: groups (any, all, none), field scopes, and proximity (two spellings at
most N words apart, in the same field). Words are counted in the normal form of
``monitor.textnorm``: runs of letters, digits and marks, an apostrophe inside a word
("Kayani's") joining it; in scripts written without spaces each character is a word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.models import Hit
from monitor.textnorm import GLUES, is_word_char, normalise
from monitor.watchlang import FIELDS, Condition, Group, Scoped, Term, parse_term

Hits = Mapping[str, Sequence[Hit]]
Texts = Mapping[str, str]


class _Node(Protocol):
    def test(self, hits: Hits, texts: Texts) -> list[Hit] | None:
        """The hits that make this condition hold ([] for a ``none`` that holds), or None if it does not."""


class RuleLike(Protocol):
    """What ``compile_rule`` reads of a watch rule (``monitor.match.WatchRule``)."""

    @property
    def keywords(self) -> tuple[Condition, ...]: ...

    @property
    def require(self) -> tuple[Condition, ...]: ...

    @property
    def exclude(self) -> tuple[Condition, ...]: ...


@dataclass(frozen=True)
class _Leaf:
    """One term string: any of its spellings, in its fields; or two of them near each other."""

    left: tuple[str, ...]
    right: tuple[str, ...]
    within: int | None
    fields: frozenset[str]

    def test(self, hits: Hits, texts: Texts) -> list[Hit] | None:
        lefts = [h for atom in self.left for h in hits.get(atom, ()) if h.field in self.fields]
        if self.within is None:
            return lefts or None
        rights = [h for atom in self.right for h in hits.get(atom, ()) if h.field in self.fields]
        found: list[Hit] = []
        for left in lefts:
            # Only the nearest right hit on either side can be near enough: the text between
            # the others holds at least as many words.
            for right in _neighbours(rights, left):
                if _near(texts[left.field], left, right, self.within):
                    found += (left, right)
        return found or None


@dataclass(frozen=True)
class _Group:
    kind: str
    items: tuple[_Node, ...]

    def test(self, hits: Hits, texts: Texts) -> list[Hit] | None:
        results = [item.test(hits, texts) for item in self.items]
        if self.kind == "none":
            return [] if all(r is None for r in results) else None
        held = [r for r in results if r is not None]
        if not held if self.kind == "any" else len(held) < len(results):
            return None
        return [hit for r in held for hit in r]


@dataclass(frozen=True)
class Rule:
    """A compiled rule: ``atoms`` are every spelling to scan for, ``positive`` those (in
    the order written) whose hits can make it fire."""

    atoms: tuple[str, ...]
    positive: tuple[str, ...]
    keywords: _Node | None
    require: _Node
    exclude: _Node

    def test(self, hits: Hits, texts: Texts) -> list[Hit]:
        """The hits that make the rule fire; [] if it does not."""
        if self.exclude.test(hits, texts) is None:
            return []
        required = self.require.test(hits, texts)
        if required is None:
            return []
        wanted = self.keywords.test(hits, texts) if self.keywords is not None else []
        if wanted is None:
            return []
        return [*wanted, *required]


def compile_rule(rule: RuleLike, aliases: Mapping[str, tuple[str, ...]]) -> Rule:
    """Parse every term of ``rule``; raises TermError for one the language cannot read."""
    atoms: dict[str, None] = {}
    positive: dict[str, None] = {}

    def build(condition: Condition, fields: frozenset[str], into: dict[str, None]) -> _Node:
        if isinstance(condition, Group):
            return _Group(condition.kind, tuple(build(c, fields, into) for c in condition.items))
        if isinstance(condition, Scoped):
            return build(condition.item, fields & {condition.field}, into)
        term: Term = parse_term(condition, aliases)
        scope = fields & {term.field} if term.field is not None else fields
        spellings = (*term.left, *term.right)
        into.update(dict.fromkeys(spellings))
        atoms.update(dict.fromkeys(spellings))
        return _Leaf(term.left, term.right, term.within, frozenset(scope))

    every = frozenset(FIELDS)
    keywords = _Group("any", tuple(build(c, every, positive) for c in rule.keywords)) if rule.keywords else None
    require = _Group("all", tuple(build(c, every, positive) for c in rule.require))
    exclude = _Group("none", tuple(build(c, every, {}) for c in rule.exclude))
    return Rule(atoms=tuple(atoms), positive=tuple(positive), keywords=keywords, require=require, exclude=exclude)


def _neighbours(rights: list[Hit], left: Hit) -> list[Hit]:
    """Of ``rights``, those in ``left``'s field that overlap it, and the nearest one wholly
    before and wholly after it."""
    same = [h for h in rights if h.field == left.field]
    before = [h for h in same if h.end <= left.start]
    after = [h for h in same if h.start >= left.end]
    overlapping = [h for h in same if h.end > left.start and h.start < left.end]
    nearest_before = max(before, key=lambda h: h.end, default=None)
    nearest_after = min(after, key=lambda h: h.start, default=None)
    return [*overlapping, *(h for h in (nearest_before, nearest_after) if h is not None)]


def _near(text: str, one: Hit, other: Hit, within: int) -> bool:
    """Whether at most ``within`` words lie between the two hits (overlapping hits are near)."""
    first, second = (one, other) if one.start <= other.start else (other, one)
    if second.start <= first.end:
        return True
    # A word glued to the first hit ("Kayani's") is part of it, not a word between.
    glue = "a" if first.end > first.start and GLUES[text[first.end - 1]] else ""
    between = words_in(glue + text[first.end : second.start], stop_after=within + len(glue))
    return between - len(glue) <= within


def words_in(text: str, *, stop_after: int | None = None) -> int:
    """How many words ``text`` holds (counting stops early once past ``stop_after``)."""
    normal = normalise(text, fold=True).text
    count = 0
    previous = " "
    for index, char in enumerate(normal):
        if is_word_char(char):
            glued = GLUES[char] and (
                GLUES[previous]
                or (previous == "'" and index >= 2 and GLUES[normal[index - 2]])
            )
            if not glued:
                count += 1
                if stop_after is not None and count > stop_after:
                    return count
        previous = char
    return count
