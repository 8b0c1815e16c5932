"""Alert rendering: what a recipient reads."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from monitor.notify.render import Alert, render

ALERT = Alert(title="COAS <b>visits</b> troops", source_name="ISPR", published=datetime(2026, 11, 22, 4, 0,
                                                                                          tzinfo=timezone.utc),
              first_seen=datetime(2026, 11, 22, 4, 5, tzinfo=timezone.utc), watchlist="afpak-military",
              terms=("Kayani", "COAS"), snippet="General Kayani, Chief of Army Staff, visited…",
              url="https://www.ispr.gov.pk/press-release/6112?id=1&x=2")


def test_text_carries_every_field_and_the_url_verbatim() -> None:
    """Title, source, local time, watch list, terms, snippet and the exact URL are all in the text."""
    message = render(ALERT, timezone=ZoneInfo("Asia/Karachi"))
    for part in ("COAS <b>visits</b> troops", "ISPR", "2026-11-22 09:00 PKT", "afpak-military", "Kayani, COAS",
                 "General Kayani", ALERT.url):
        assert part in message.text
    assert message.title == "[afpak-military] COAS <b>visits</b> troops"


def test_html_escapes_source_text() -> None:
    """Markup in a source's title never reaches an HTML alert unescaped."""
    message = render(ALERT, timezone=ZoneInfo("UTC"))
    assert "<b>visits</b>" not in message.html and "&lt;b&gt;visits&lt;/b&gt;" in message.html
    assert 'href="https://www.ispr.gov.pk/press-release/6112?id=1&amp;x=2"' in message.html


def test_undated_items_say_so() -> None:
    """An item without a published date shows its first-seen time and says it is that."""
    undated = Alert(**{**ALERT.__dict__, "published": None})
    assert "first seen; no date given" in render(undated, timezone=ZoneInfo("UTC")).text
