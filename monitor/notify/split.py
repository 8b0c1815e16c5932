"""Cut a rendered body into parts that fit a channel's limit. Pure.

Nothing is dropped: a body too long for one message becomes several. Cuts fall between
blocks first, then between words; a single word (a long link) is cut only when it alone
exceeds the limit, and never inside a character with its combining marks or an HTML
entity. HTML parts stay well-formed: tags open at a cut are closed and reopened, unless reopening
them would leave too little room for text (a link whose URL is near the limit); their text
then continues unwrapped, so every cut makes progress.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.textnorm import grapheme_cut

_TOKENS = re.compile(r"<[^>]*>|[^<]+")
_WORDS = re.compile(r"\S+\s*|\s+")
_VOID = {"br", "hr", "img", "wbr", "meta", "link", "input"}


def split_body(blocks: Sequence[str], *, limit: int, fmt: str, separator: str) -> list[str]:
    """Pack ``blocks`` (joined by ``separator``) into as few parts of at most ``limit``
    characters as possible."""
    limit = max(limit, 16)
    parts: list[str] = []
    current = ""
    for block in blocks:
        pieces = [block] if len(block) <= limit else _cut_block(block, limit, fmt)
        for piece in pieces:
            joined = f"{current}{separator}{piece}" if current else piece
            if len(joined) <= limit:
                current = joined
            else:
                parts.append(current)
                current = piece
    if current or not parts:
        parts.append(current)
    return parts


def _cut_block(block: str, limit: int, fmt: str) -> list[str]:
    if fmt == "html":
        return _cut_html(block, limit)
    if fmt == "markdown":
        return _balanced_bold(_cut_words(block, limit - 2 * len(_BOLD)))
    return _cut_words(block, limit)


_BOLD = "**"  # ours alone: escape_markdown writes a source text's asterisks as \*


def _balanced_bold(pieces: list[str]) -> list[str]:
    """Each piece closes the bold it opens, and the next reopens it: cut inside a bold title
    or term, a part showed stray asterisks and left the rest of the next part bold."""
    out, bold = [], False
    for piece in pieces:
        piece = (_BOLD if bold else "") + piece
        bold = piece.count(_BOLD) % 2 == 1
        out.append(piece + _BOLD if bold else piece)
    return out


def _cut_words(block: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for word in _WORDS.findall(block):
        if len(current) + len(word.rstrip()) <= limit:
            current += word
            continue
        if current.strip():
            pieces.append(current.rstrip())
        current = ""
        while len(word.rstrip()) > limit:
            at = safe_cut(word, limit)
            pieces.append(word[:at])
            word = word[at:]
        current = word
    if current.strip():
        pieces.append(current.rstrip())
    return pieces


def _cut_html(block: str, limit: int) -> list[str]:
    # Invariant: len(current) + len(closing()) <= limit. Whitespace after the last word is
    # held in ``pending`` so that a part can end on it without counting it.
    pieces: list[str] = []
    stack: list[_Open] = []
    current = ""
    pending = ""

    def closing() -> str:
        return "".join(f"</{t.name}>" for t in reversed(stack) if t.wrapped)

    def reopen() -> str:
        return "".join(t.tag for t in stack if t.wrapped)

    def flush() -> None:
        nonlocal current, pending
        if _has_text(current):
            pieces.append(current + closing())
        # Tags too long to reopen would leave no room for text, so the rest of their text
        # goes out unwrapped rather than in ever smaller parts (or none at all).
        for t in reversed(stack):
            if len(reopen()) + len(closing()) <= limit // 2:
                break
            t.wrapped = False
        current, pending = reopen(), ""

    def fits(extra: int) -> bool:
        return len(current) + len(pending) + extra + len(closing()) <= limit

    for token in _TOKENS.findall(block):
        if not token.startswith("<"):
            for word in _WORDS.findall(token):
                text = word.rstrip()
                if not text:
                    pending += word
                    continue
                if not fits(len(text)):
                    flush()
                while not fits(len(text)):
                    # A fresh part leaves at least half the limit for text: the cut progresses.
                    room = limit - len(current) - len(closing())
                    at = safe_cut(text, room, html=True)
                    current += text[:at]
                    text = text[at:]
                    flush()
                current += pending + text
                pending = word[len(word.rstrip()):]
            continue
        name = token.strip("</> ").split()[0].lower() if token.strip("</> ") else ""
        if token.startswith("</"):
            if any(t.name == name for t in stack):
                # Closing before any pending whitespace keeps the invariant; HTML renders it alike.
                while stack:
                    t = stack.pop()
                    if t.wrapped:
                        current += f"</{t.name}>"
                    if t.name == name:
                        break
                continue
        elif name and name not in _VOID and name[0] not in "!?" and not token.endswith("/>"):
            close = len(name) + 3
            fresh = len(reopen()) + len(closing()) + len(token) + close + 1 <= limit
            if fresh and not fits(len(token) + close):
                flush()
            opened = _Open(name=name, tag=token, wrapped=fits(len(token) + close + 1))
            if opened.wrapped:
                current += pending + token
                pending = ""
            stack.append(opened)
            continue
        # A void tag, comment or stray closing tag: kept where it fits, dropped if it never can.
        if not fits(len(token)):
            flush()
        if fits(len(token)):
            current += pending + token
            pending = ""
    if _has_text(current):
        pieces.append(current + closing())
    return pieces


@dataclass(kw_only=True)
class _Open:
    """A tag open at this point of the block; ``wrapped`` is False once it is too long to
    reopen in a part, and from then on neither it nor its closing tag is written."""

    name: str
    tag: str
    wrapped: bool


def _has_text(fragment: str) -> bool:
    return bool(re.sub(r"<[^>]*>", "", fragment).strip())


def safe_cut(word: str, at: int, *, html: bool = False) -> int:
    """The largest index <= ``at`` (and > 0) where ``word`` can be cut without splitting a
    base character from its combining marks, a joined emoji, or an HTML entity."""
    cut = grapheme_cut(word, at)
    if html:
        amp = word.rfind("&", 0, cut)
        if amp > 0 and ";" in word[amp:amp + 10] and word.find(";", amp) >= cut:
            cut = amp
    return cut if cut > 0 else min(at, len(word))
