"""Cutting messages to each service's limit: nothing dropped, no word, link or character broken."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.notify.deliver import Target
from monitor.notify.render import Alert, render, render_digest
from monitor.notify.split import safe_cut, split_body

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=timezone.utc)
URDU = "پاک فوج کے سربراہ نے اگلے مورچوں کا دورہ کیا اور جوانوں سے ملاقات کی"
TELEGRAM = "tgram://123456789:abcdefg_hijklmnop/12315544/"
DISCORD = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
SMS = "sns://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl/us-west-2/+15551234567"


def alert(n: int, snippet: str = "General Kayani visited troops.") -> Alert:
    return Alert(title=f"Release {n}: COAS visits <troops>", source_name="ISPR", published=NOW, first_seen=NOW,
                 watchlist="afpak", terms=("Kayani",), snippet=snippet,
                 url=f"https://www.ispr.gov.pk/press-release/{n}?id={n}&utm=x")


def test_blocks_that_fit_stay_whole() -> None:
    """Short blocks are packed together and never cut."""
    assert split_body(["one two", "three"], limit=100, fmt="text", separator="\n\n") == ["one two\n\nthree"]


def test_a_long_block_is_cut_between_words() -> None:
    """A block over the limit is cut at spaces; joined back, the words are all there."""
    words = [f"word{i}" for i in range(200)]
    parts = split_body([" ".join(words)], limit=50, fmt="text", separator="\n\n")
    assert all(len(p) <= 50 for p in parts)
    assert " ".join(parts).split() == words


def test_multibyte_text_is_cut_between_characters_and_words() -> None:
    """Urdu text is cut only at spaces, so every word arrives whole."""
    text = " ".join([URDU] * 40)
    parts = split_body([text], limit=100, fmt="text", separator="\n\n")
    assert all(len(p) <= 100 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_combining_marks_stay_with_their_letter() -> None:
    """A forced cut inside an over-long word never separates a letter from its combining marks."""
    word = "e\u0301" * 30  # é written as e + combining acute
    at = safe_cut(word, 11)
    assert at % 2 == 0 and word[at] == "e"


def test_an_over_long_link_is_cut_only_when_it_alone_exceeds_the_limit() -> None:
    """A link that fits in a part is moved whole to the next part rather than cut."""
    link = "https://example.org/" + "a" * 60
    parts = split_body(["x " * 20 + link], limit=80, fmt="text", separator="\n\n")
    assert link in parts


def test_html_parts_stay_well_formed() -> None:
    """Tags open at an HTML cut are closed in that part and reopened in the next."""
    block = "<blockquote>" + " ".join([URDU] * 20) + "</blockquote>"
    parts = split_body([block], limit=200, fmt="html", separator="")
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 200 and part.startswith("<blockquote>") and part.endswith("</blockquote>")


def visible(html_text: str) -> str:
    """The non-space characters of ``html_text`` outside tags, in order."""
    return re.sub(r"\s+", "", re.sub(r"<[^>]*>", "", html_text))


def balanced(part: str) -> bool:
    """Whether every non-void tag opened in ``part`` is closed in it, innermost first."""
    stack: list[str] = []
    for tag in re.findall(r"<(/?)([a-z]+)[^>]*>", part):
        if tag[1] in ("br", "img"):
            continue
        if not tag[0]:
            stack.append(tag[1])
        elif not stack or stack.pop() != tag[1]:
            return False
    return not stack


@pytest.mark.timeout(10)
def test_a_link_whose_url_exceeds_the_limit_is_cut_without_hanging() -> None:
    """An <a href> longer than the whole limit loses its tag, not its text, and every part fits."""
    url = "https://www.ispr.gov.pk/press-release/" + "x" * 262
    block = f'<p>Read <a href="{url}">the full release of the COAS visit</a> {" ".join([URDU] * 5)}</p>'
    parts = split_body([block], limit=120, fmt="html", separator="")
    assert all(len(p) <= 120 and balanced(p) for p in parts)
    assert visible("".join(parts)) == visible(block)


@pytest.mark.timeout(10)
def test_tags_too_long_to_reopen_let_their_text_go_on_unwrapped() -> None:
    """A link that fits once but leaves no room to reopen it carries on as plain text, not in tiny parts."""
    block = f'<a href="https://example.org/{"y" * 60}">{" ".join(["word"] * 100)}</a>'
    parts = split_body([block], limit=120, fmt="html", separator="")
    assert all(len(p) <= 120 and balanced(p) for p in parts)
    assert visible("".join(parts)) == visible(block)
    assert len(parts) < 10


_WORD = st.sampled_from(["word", URDU.split()[0], "e\u0301e\u0301", "a&amp;b", "x" * 150, "👍🏽", "  ", "\n"])
_OPEN = st.sampled_from(["<b>", "<i>", "<blockquote>", "<p>"]) | st.integers(0, 400).map(
    lambda n: f'<a href="https://e.org/{"u" * n}">')


@st.composite
def html_blocks(draw: st.DrawFn, depth: int = 0) -> str:
    """Well-formed HTML-ish text: words, <br>, and nested tags (links with URLs of any length)."""
    out = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 4 if depth < 3 else 2))
        if kind <= 1:
            out.append(" ".join(draw(st.lists(_WORD, min_size=1, max_size=8))))
        elif kind == 2:
            out.append("<br>")
        else:
            tag = draw(_OPEN)
            name = tag[1:].split(">")[0].split()[0]
            out.append(f"{tag}{draw(html_blocks(depth + 1))}</{name}>")
    return " ".join(out)


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=2000)
@given(block=html_blocks(), limit=st.integers(1, 300))
def test_html_splitting_always_ends_within_the_limit_and_keeps_the_text(block: str, limit: int) -> None:
    """For any HTML-ish block and limit, splitting ends, each part fits and is balanced, and no text is lost."""
    parts = split_body([block], limit=limit, fmt="html", separator="")
    assert all(len(p) <= max(limit, 16) and balanced(p) for p in parts)
    assert visible("".join(parts)) == visible(block)


def test_html_entities_are_never_cut() -> None:
    """A forced cut in escaped text never splits an entity such as &amp;."""
    word = "a&amp;b" * 10
    for limit in range(2, 40):
        at = safe_cut(word, limit, html=True)
        assert not word[:at].endswith(("&", "&a", "&am", "&amp"))


def test_telegram_gets_html_within_4096_characters() -> None:
    """A Telegram target renders HTML, puts the escaped title in the body, and keeps every part within 4096."""
    target = Target("chat", 0, TELEGRAM)
    message = render(alert(1, snippet=" ".join([URDU] * 200)), timezone=ZoneInfo("Asia/Karachi"))
    parts = target.parts(message)
    assert target.format == "html" and len(parts) > 1
    assert all(len(body) <= 4096 and title == "" for title, body in parts)
    assert "&lt;troops&gt;" in parts[0][1] and "<troops>" not in "".join(b for _, b in parts)
    assert ' '.join(b for _, b in parts).count(URDU) == 200


def test_a_digest_too_long_for_discord_is_split_between_stories() -> None:
    """Every story of a long digest reaches Discord, whole, in parts of at most 2000 characters."""
    target = Target("chat", 0, DISCORD)
    alerts = [alert(n) for n in range(60)]
    parts = target.parts(render_digest(alerts, timezone=ZoneInfo("UTC")))
    assert len(parts) > 1 and all(len(body) <= 2000 and len(title) <= 250 for title, body in parts)
    for a in alerts:
        assert sum(a.url in body for _, body in parts) == 1
    assert parts[0][0].endswith(f"(1/{len(parts)})")


def test_sms_gets_plain_text_within_160_characters() -> None:
    """An SMS service gets plain text, cut to its 160-character limit with the URL unbroken."""
    target = Target("sms", 0, SMS)
    parts = target.parts(render(alert(7), timezone=ZoneInfo("UTC")))
    assert target.format == "text"
    assert all(len(body) <= 160 for _, body in parts)
    assert any(alert(7).url in body for _, body in parts)


def test_a_bold_markdown_block_cut_into_parts_is_bold_in_each() -> None:
    """A long bold title or snippet cut across parts: each part closes the bold it opened and the
    next reopens it. Cut inside **...**, a part showed stray asterisks and the next turned bold."""
    title = "**" + " ".join(f"word{i}" for i in range(300)) + "**"
    parts = split_body([title, r"after \*not bold\*"], limit=200, fmt="markdown", separator="\n\n")
    assert len(parts) > 3 and all(len(p) <= 200 for p in parts)
    assert all(p.startswith("**") and p.count("**") % 2 == 0 for p in parts[:-1])
    assert parts[-1].endswith(r"after \*not bold\*")
    words = re.findall(r"word\d+", " ".join(parts))
    assert words == [f"word{i}" for i in range(300)]
