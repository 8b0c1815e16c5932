"""Cutting messages to each service's limit: nothing dropped, no word, link or character broken."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

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
