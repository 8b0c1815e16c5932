"""The watch-list term language: what one term string means, before any text is scanned.

A term is one string of a ``keywords``, ``require`` or ``exclude`` list (DESIGN.md
section 2). Most are a plain word or phrase, and mean what they always did. The rest:

    Kayani | Kiyani | "Gen. Kayani"    any of these spellings (one term)
    "@kayani"                          any variant of the alias kayani (an aliases: file)
    title:ISPR      body:COAS          only in the title / only in the body
    Kayani ~10 Dunford                 both, at most 10 words apart, in the same field
    /gen(eral)? munir/                 a regular expression (as before)

``title:``/``body:`` come first and cover the whole term; ``|`` binds tighter than
``~N``, so ``Kayani | Kiyani ~10 Dunford`` is either spelling near Dunford. Inside double
quotes every character is literal. A term with none of this syntax is one phrase, as
written, so lists written before the language grew keep their meaning.

Groups nest terms in YAML (``{all: [Kayani, Dunford]}``, ``{any: [...]}``,
``{none: [...]}``), and ``{title: ...}``/``{body: ...}`` scope a whole group: see
``Group`` and ``Scoped``, which the config layer builds and ``monitor.match`` compiles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

FIELDS = ("title", "body")
GROUP_KINDS = ("any", "all", "none")
MAX_WITHIN = 1000

ALIAS_NAME = re.compile(r"[^\W_][\w-]*")
_FIELD_PREFIX = re.compile(r"(title|body):\s*")
_WITHIN = re.compile(r"~\s*(\d+)")
_ALIAS_REF = re.compile(r"@([^\W_][\w-]*)")


@dataclass(frozen=True, kw_only=True)
class Group:
    """Nested conditions: ``any`` of them, ``all`` of them, or ``none`` of them."""

    kind: Literal["any", "all", "none"]
    items: tuple[Condition, ...]


@dataclass(frozen=True, kw_only=True)
class Scoped:
    """A condition that looks only at one field of an item (``{title: ISPR}``)."""

    field: Literal["title", "body"]
    item: Condition


Condition = str | Group | Scoped


@dataclass(frozen=True, kw_only=True)
class Term:
    """One parsed term string. ``left`` (and, for proximity, ``right``) are alternatives:
    each a plain phrase or a ``/regex/``, as the matcher scans them; the hits it reports
    name these. ``within`` is the most words allowed between a left and a right hit."""

    left: tuple[str, ...]
    right: tuple[str, ...] = ()
    within: int | None = None
    field: Literal["title", "body"] | None = None


class TermError(ValueError):
    """A term string that the language cannot read; the message is a sentence for users.
    ``where`` is the path inside a group (``("any", 0, "all", 1)``) when it is nested."""

    def __init__(self, message: str, where: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.where).lstrip(".")
        return f"{path}: {self.message}" if path else self.message


_TYPOGRAPHIC_QUOTES = dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u00ab\u00bb"), '"')


def parse_term(term: str, aliases: Mapping[str, tuple[str, ...]] | None = None) -> Term:
    """The meaning of ``term``; raises TermError saying what is wrong.

    ``aliases`` maps lower-cased alias names to their variants; None accepts every
    ``@name`` and leaves it unexpanded (syntax checks only, before aliases are known).
    """
    text = term.strip()
    if not text:
        raise TermError("the term is empty (write a word, a phrase or a /regular expression/)")
    if regex_source(text) is not None and _is_whole_regex(text):
        return Term(left=(term,))
    # A phrase pasted from a word processor or chat comes in typographic quotes, which would
    # be part of the phrase and so match nothing: they are the quotes they stand for.
    text = text.translate(_TYPOGRAPHIC_QUOTES)
    field: Literal["title", "body"] | None = None
    prefix = _FIELD_PREFIX.match(text)
    if prefix is not None:
        field = "title" if prefix.group(1) == "title" else "body"
        text = text[prefix.end() :]
    sides: list[list[str]] = [[]]
    within: int | None = None
    expect_operand = True
    pos = 0
    while True:
        pos = _skip_spaces(text, pos)
        if pos >= len(text):
            break
        char = text[pos]
        if char == "|":
            if expect_operand:
                raise TermError(f"'{term.strip()}': '|' needs a term on each side (like Kayani | Kiyani)")
            expect_operand = True
            pos += 1
            continue
        if char == "~":
            found = _WITHIN.match(text, pos)
            if found is None:
                raise TermError(f"'{term.strip()}': '~' needs a number of words after it (like Kayani ~10 Dunford)")
            if expect_operand or within is not None:
                raise TermError(
                    f"'{term.strip()}': '~N' joins exactly two terms (like Kayani ~10 Dunford)"
                )
            within = int(found.group(1))
            if within > MAX_WITHIN:
                raise TermError(f"'{term.strip()}': ~{within} is too far (expected at most ~{MAX_WITHIN} words)")
            sides.append([])
            expect_operand = True
            pos = found.end()
            continue
        if not expect_operand:
            raise TermError(f"'{term.strip()}': put '|' between spellings (like Kayani | \"Gen. Kayani\")")
        operand, pos = _operand(term, text, pos)
        sides[-1].extend(_expand(term, operand, aliases))
        expect_operand = False
    if expect_operand:
        if not text.strip():
            raise TermError(f"'{term.strip()}' has a field but no term (like title:ISPR)")
        raise TermError(f"'{term.strip()}' ends with an operator (expected a term after '|' or '~N')")
    simple = field is None and within is None and len(sides[0]) == 1 and text.strip() == term.strip()
    if simple and not _has_syntax(term.strip()):
        return Term(left=(term,))  # as written: hits name the term exactly as the list does
    left = tuple(dict.fromkeys(sides[0]))
    right = tuple(dict.fromkeys(sides[1])) if within is not None else ()
    return Term(left=left, right=right, within=within, field=field)


def alias_refs(term: str) -> list[str]:
    """The alias names (lower-cased) that ``term`` refers to with ``@name``; [] if it does not parse."""
    try:
        parsed = parse_term(term)
    except TermError:
        return []
    return [atom[1:].lower() for atom in (*parsed.left, *parsed.right) if atom.startswith("@")]


def regex_source(term: str) -> str | None:
    """The pattern of a ``/regex/`` term, or None for a plain term."""
    if len(term) >= 2 and term.startswith("/") and term.endswith("/"):
        return term[1:-1]
    return None


def variant_problem(variant: str) -> str | None:
    """None if ``variant`` can be one spelling of an alias (a phrase or a /regex/), else why not."""
    text = variant.strip()
    if not text:
        return "the variant is empty (write a word, a phrase or a /regular expression/)"
    if regex_source(text) is not None or not _has_syntax(text):
        return None
    return f"'{text}' is not a single spelling (write each variant as its own list item, without | ~ @ or title:)"


def _has_syntax(text: str) -> bool:
    return (
        any(c in text for c in '|~"')
        or text.startswith("@")
        or _FIELD_PREFIX.match(text) is not None
        or text.startswith("/")
    )


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _is_whole_regex(text: str) -> bool:
    """Whether ``text`` (starting and ending with '/') is one regex rather than several terms."""
    end = _regex_end(text, 0)
    return end == len(text)


def _regex_end(text: str, start: int) -> int | None:
    """The index after the '/' closing the regex that opens at ``start``: the first
    unescaped '/' followed by nothing, '|' or '~' (a regex may hold other slashes)."""
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if char == "/":
            after = _skip_spaces(text, pos + 1)
            if after >= len(text) or text[after] in "|~":
                return pos + 1
        pos += 1
    return None


def _operand(term: str, text: str, pos: int) -> tuple[str, int]:
    """One alternative starting at ``pos``: its text (quotes removed) and the index after it."""
    char = text[pos]
    if char == '"':
        close = text.find('"', pos + 1)
        if close < 0:
            raise TermError(f"'{term.strip()}' opens a quote that it does not close (expected \"a phrase\")")
        return '"' + text[pos + 1 : close] + '"', close + 1
    if char == "/":
        end = _regex_end(text, pos)
        if end is None:
            raise TermError(
                f"'{term.strip()}': a regular expression starts with '/' but does not end with one "
                "(write /pattern/)"
            )
        return text[pos:end], end
    end = pos
    while end < len(text) and text[end] not in "|~":
        if text[end] == '"':
            raise TermError(f"'{term.strip()}': put quotes around a whole phrase (like \"Gen. Kayani\")")
        end += 1
    return text[pos:end].strip(), end


def _expand(term: str, operand: str, aliases: Mapping[str, tuple[str, ...]] | None) -> list[str]:
    """The spellings one operand stands for: itself, or an alias's variants."""
    if operand.startswith('"'):
        # Without aliases (a syntax check) the quotes stay, so "@x" is not taken for @x.
        return [operand if aliases is None else operand[1:-1].strip()]
    if operand.startswith("@"):
        ref = _ALIAS_REF.fullmatch(operand)
        if ref is None:
            raise TermError(
                f"'{operand}' is not an alias reference (expected @name, letters, digits, - and _; "
                f"to match the text itself, quote it: '\"{operand}\"')"
            )
        if aliases is None:
            return [operand]
        name = ref.group(1).lower()
        if name not in aliases:
            known = ", ".join(sorted(aliases)) if aliases else "none are defined (add an aliases: file)"
            raise TermError(
                f"'{operand}' names no alias (known: {known}; to match the text itself, quote it: '\"{operand}\"')"
            )
        return list(aliases[name])
    return [operand]


def condition_from_yaml(value: object, check: Callable[[str], str | None]) -> Condition:
    """A YAML value of a term list (a term string, or a one-key mapping ``any``, ``all``,
    ``none``, ``title`` or ``body``) as a Condition; ``check`` names a bad term string.
    Raises TermError naming where inside a group the problem is (``all[1]: ...``)."""
    if isinstance(value, (Group, Scoped)):
        return value  # already read (a validated model being copied)
    if isinstance(value, str):
        if not value.strip():
            raise TermError("the term is empty (write a word, a phrase or a /regular expression/)")
        problem = check(value)
        if problem is not None:
            raise TermError(problem)
        return value
    if isinstance(value, dict):
        keys = list(value)
        if len(keys) != 1 or keys[0] not in (*GROUP_KINDS, *FIELDS):
            got = ", ".join(map(str, keys)) or "nothing"
            raise TermError(
                f"a group has exactly one key, any, all, none, title or body (got {got}; "
                "like {all: [Kayani, Dunford]} or {title: ISPR})"
            )
        key = keys[0]
        inner = value[key]
        if key in FIELDS:
            field: Literal["title", "body"] = "title" if key == "title" else "body"
            if isinstance(inner, list):
                return Scoped(field=field, item=_group("any", inner, key, check))
            return Scoped(field=field, item=_nested(inner, (key,), check))
        kind: Literal["any", "all", "none"] = "any" if key == "any" else "all" if key == "all" else "none"
        return _group(kind, inner if isinstance(inner, list) else [inner], key, check)
    if isinstance(value, bool):
        raise TermError("got true/false (expected a term; put it in quotes)")
    if value is None:
        raise TermError("got nothing (expected a term, or a group like {all: [Kayani, Dunford]})")
    raise TermError("got a list (expected a term, or a group like {all: [Kayani, Dunford]})")


def _group(kind: Literal["any", "all", "none"], items: list[object], key: str,
           check: Callable[[str], str | None]) -> Group:
    if not items:
        raise TermError("is an empty list (expected at least one term)", (key,))
    return Group(kind=kind, items=tuple(_nested(item, (key, i), check) for i, item in enumerate(items)))


def _nested(value: object, where: tuple[str | int, ...], check: Callable[[str], str | None]) -> Condition:
    try:
        return condition_from_yaml(value, check)
    except TermError as exc:
        raise TermError(exc.message, (*where, *exc.where)) from None

