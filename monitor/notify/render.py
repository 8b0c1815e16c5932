"""Alert -> message text, per format. Pure: no I/O, no apprise."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True, kw_only=True)
class Alert:
    """Everything a recipient sees about one matched item (DESIGN.md section 4)."""

    title: str
    source_name: str
    published: datetime | None
    first_seen: datetime
    watchlist: str
    terms: tuple[str, ...]
    snippet: str
    url: str


@dataclass(frozen=True, kw_only=True)
class Message:
    title: str
    text: str
    markdown: str
    html: str


def _when(alert: Alert, zone: ZoneInfo) -> str:
    if alert.published is not None:
        return alert.published.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    return alert.first_seen.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") + " (first seen; no date given)"


def render(alert: Alert, *, timezone: ZoneInfo) -> Message:
    """One alert in plain text, Markdown and HTML. The URL is always printed verbatim."""
    title = alert.title.strip() or alert.url
    when = _when(alert, timezone)
    terms = ", ".join(alert.terms)
    subject = f"[{alert.watchlist}] {title}"
    text = (
        f"{title}\n"
        f"Source: {alert.source_name}\n"
        f"Published: {when}\n"
        f"Watch list: {alert.watchlist}\n"
        f"Matched: {terms}\n"
        f"\n{alert.snippet}\n\n"
        f"{alert.url}\n"
    )
    markdown = (
        f"**{_md(title)}**\n\n"
        f"Source: {_md(alert.source_name)}  \n"
        f"Published: {when}  \n"
        f"Watch list: {_md(alert.watchlist)}  \n"
        f"Matched: {_md(terms)}\n\n"
        f"> {_md(alert.snippet)}\n\n"
        f"{alert.url}\n"
    )
    esc = html.escape
    html_body = (
        f"<p><strong>{esc(title)}</strong></p>"
        f"<p>Source: {esc(alert.source_name)}<br>Published: {esc(when)}<br>"
        f"Watch list: {esc(alert.watchlist)}<br>Matched: {esc(terms)}</p>"
        f"<blockquote>{esc(alert.snippet)}</blockquote>"
        f'<p><a href="{esc(alert.url, quote=True)}">{esc(alert.url)}</a></p>'
    )
    return Message(title=subject, text=text, markdown=markdown, html=html_body)


def _md(value: str) -> str:
    """Escape Markdown control characters in source text so titles can't restyle a message."""
    return "".join("\\" + ch if ch in "\\`*_{}[]<>#|" else ch for ch in value)
