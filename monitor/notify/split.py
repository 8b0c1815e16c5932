"""Cut a rendered body into parts that fit a channel's limit. Pure.

Nothing is dropped: a body too long for one message becomes several. Cuts fall between
blocks first, then between words; a single word (a long link) is cut only when it alone
exceeds the limit, and never inside a character with its combining marks or an HTML
entity. HTML parts stay well-formed: tags open at a cut are closed and reopened.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_TOKENS = re.compile(r"<[^>]*>|[^<]+")
_WORDS = re.compile(r"\S+\s*|\s+")
_VOID = {"br", "hr", "img", "wbr", "meta", "link", "input"}
_ZWJ = "\u200d"


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
    pieces: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, the opening tag as written)
    current = ""

    def closing() -> str:
        return "".join(f"</{name}>" for name, _ in reversed(open_tags))

    def flush() -> None:
        nonlocal current
        if _has_text(current):
            pieces.append(current.rstrip() + closing())
        current = "".join(tag for _, tag in open_tags)

    for token in _TOKENS.findall(block):
        if token.startswith("<"):
            name = token.strip("</>").split()[0].lower() if token.strip("</> ") else ""
            if len(current) + len(token) + len(closing()) > limit:
                flush()
            current += token
            if token.startswith("</"):
                if open_tags and open_tags[-1][0] == name:
                    open_tags.pop()
            elif name not in _VOID and not token.endswith("/>"):
                open_tags.append((name, token))
            continue
        for word in _WORDS.findall(token):
            room = limit - len(current) - len(closing())
            if len(word.rstrip()) <= room:
                current += word
                continue
            flush()
            room = limit - len(current) - len(closing())
            while len(word.rstrip()) > room:
                at = safe_cut(word, max(room, 1), html=True)
                current += word[:at]
                word = word[at:]
                flush()
                room = limit - len(current) - len(closing())
            current += word
    if _has_text(current):
        pieces.append(current.rstrip() + closing())
    return pieces


def _has_text(fragment: str) -> bool:
    return bool(re.sub(r"<[^>]*>", "", fragment).strip())


def safe_cut(word: str, at: int, *, html: bool = False) -> int:
    """The largest index <= ``at`` (and > 0) where ``word`` can be cut without splitting a
    base character from its combining marks, a joined emoji, or an HTML entity."""
    at = min(at, len(word))
    cut = at
    while cut > 1 and cut < len(word) and _joined(word[cut - 1], word[cut]):
        cut -= 1
    if html:
        amp = word.rfind("&", 0, cut)
        if amp > 0 and ";" in word[amp:amp + 10] and word.find(";", amp) >= cut:
            cut = amp
    return cut if cut > 0 else at


def _joined(before: str, after: str) -> bool:
    if after == _ZWJ or before == _ZWJ:
        return True
    if unicodedata.combining(after) or unicodedata.category(after) in ("Mn", "Me", "Mc"):
        return True
    if "\ufe00" <= after <= "\ufe0f" or "\U0001f3fb" <= after <= "\U0001f3ff":
        return True  # variation selectors and skin tones belong to the character before
    return "\udc00" <= after <= "\udfff"
