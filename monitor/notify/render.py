"""Alert -> message text, per format. Pure: no I/O, no apprise.

A message is rendered once into plain text, Markdown and HTML, each as a list of blocks
(a header, one block per watch list, the link; one block per story in a digest) so that
``monitor.notify.split`` can cut a message too long for a channel between blocks first.
Source text (titles, names, snippets) is escaped for the format it goes into. Each matched
term's snippet is shown, the terms in it bold in Markdown and HTML: the snippet is cut into
marked and unmarked pieces first and each piece escaped on its own, so source text can
never open or close the emphasis.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.models import Snippet


@dataclass(frozen=True, kw_only=True)
class Reason:
    """One watch list that fired on an item: its matched terms and a snippet per term.

    ``snippets`` is empty for matches stored before snippets were kept; ``snippet`` (the
    first snippet's text) is then shown, unmarked."""

    watchlist: str
    terms: tuple[str, ...]
    snippet: str
    snippets: tuple[Snippet, ...] = ()
    url: str = ""  # the item it fired on, when a digest folds another item of the story into this one

    @property
    def shown(self) -> tuple[Snippet, ...]:
        """The snippets to show: every term's, or the one plain snippet of an older match."""
        if self.snippets:
            return self.snippets
        return (Snippet(term=self.terms[0] if self.terms else "", field="", text=self.snippet),) if self.snippet else ()


@dataclass(frozen=True, kw_only=True)
class Alert:
    """Everything a recipient sees about one matched item (DESIGN.md section 4).

    ``watchlist``, ``terms``, ``snippet`` and ``snippets`` are the first watch list that fired; ``also``
    holds the others (one message per item and channel names them all). ``also_at`` names
    the other sources that carried the same story.
    """

    title: str
    source_name: str
    published: datetime | None
    first_seen: datetime
    watchlist: str
    terms: tuple[str, ...]
    snippet: str
    url: str
    also: tuple[Reason, ...] = ()
    also_at: tuple[str, ...] = ()
    snippets: tuple[Snippet, ...] = ()

    @property
    def reasons(self) -> tuple[Reason, ...]:
        first = Reason(watchlist=self.watchlist, terms=self.terms, snippet=self.snippet, snippets=self.snippets)
        return (first, *self.also)

    @property
    def watchlists(self) -> tuple[str, ...]:
        return tuple(r.watchlist for r in self.reasons)


@dataclass(frozen=True, kw_only=True)
class Message:
    """A rendered message. The ``*_blocks`` are the bodies' pieces, joined by ``SEPARATORS``;
    empty means the body is one block."""

    title: str
    text: str
    markdown: str
    html: str
    text_blocks: tuple[str, ...] = ()
    markdown_blocks: tuple[str, ...] = ()
    html_blocks: tuple[str, ...] = ()

    def blocks(self, fmt: str) -> tuple[str, ...]:
        """The body in format ``fmt`` (text, markdown or html) as blocks."""
        blocks = {"text": self.text_blocks, "markdown": self.markdown_blocks, "html": self.html_blocks}[fmt]
        return blocks or ({"text": self.text, "markdown": self.markdown, "html": self.html}[fmt],)


SEPARATORS = {"text": "\n\n", "markdown": "\n\n", "html": ""}


def when_text(published: datetime | None, first_seen: datetime, zone: ZoneInfo) -> str:
    if published is not None:
        return _shown(published, zone)
    return _shown(first_seen, zone) + " (first seen; no date given)"


def _shown(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` in ``zone``; in UTC where the zone's time would leave the calendar (a date
    stored before the store refused year 9999 must not stop its channel's alerts)."""
    try:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    except OverflowError:
        return moment.strftime("%Y-%m-%d %H:%M UTC")


def _message(title: str, text: list[str], markdown: list[str], html_blocks: list[str]) -> Message:
    return Message(
        title=title,
        text=SEPARATORS["text"].join(text) + "\n",
        markdown=SEPARATORS["markdown"].join(markdown) + "\n",
        html=SEPARATORS["html"].join(html_blocks),
        text_blocks=tuple(text), markdown_blocks=tuple(markdown), html_blocks=tuple(html_blocks),
    )


def render(alert: Alert, *, timezone: ZoneInfo) -> Message:
    """One alert in plain text, Markdown and HTML. The URL is always printed verbatim."""
    title = alert.title.strip() or alert.url
    when = when_text(alert.published, alert.first_seen, timezone)
    reasons = alert.reasons
    subject = f"[{', '.join(alert.watchlists)}] {title}"
    esc = html.escape
    head = [("Source", alert.source_name), ("Published", when)]
    if alert.also_at:
        head.append(("Also at", ", ".join(alert.also_at)))
    text = [f"{title}\n" + "\n".join(f"{k}: {v}" for k, v in head)]
    markdown = [f"**{escape_markdown(title)}**\n\n" + "  \n".join(f"{k}: {escape_markdown(v)}" for k, v in head)]
    html_blocks = [f"<p><strong>{esc(title)}</strong></p><p>"
                   + "<br>".join(f"{k}: {esc(v)}" for k, v in head) + "</p>"]
    if len(reasons) == 1:
        terms = ", ".join(alert.terms)
        text[0] += f"\nWatch list: {alert.watchlist}\nMatched: {terms}"
        markdown[0] += f"  \nWatch list: {escape_markdown(alert.watchlist)}  \nMatched: {escape_markdown(terms)}"
        html_blocks[0] = html_blocks[0][:-len("</p>")] + (
            f"<br>Watch list: {esc(alert.watchlist)}<br>Matched: {esc(terms)}</p>")
    for reason in reasons:
        if len(reasons) > 1:
            terms = ", ".join(reason.terms)
            text.append(f"Watch list: {reason.watchlist}\nMatched: {terms}")
            markdown.append(f"Watch list: **{escape_markdown(reason.watchlist)}**  \nMatched: {escape_markdown(terms)}")
            html_blocks.append(f"<p>Watch list: <strong>{esc(reason.watchlist)}</strong><br>Matched: {esc(terms)}</p>")
        # One block per snippet: a long message is cut between snippets before inside one.
        for shown in reason.shown:
            text.append(shown.text)
            markdown.append("> " + snippet_markdown(shown))
            html_blocks.append(f"<blockquote>{snippet_html(shown)}</blockquote>")
    text.append(alert.url)
    markdown.append(alert.url)
    html_blocks.append(f'<p><a href="{esc(alert.url, quote=True)}">{esc(alert.url)}</a></p>')
    return _message(subject, text, markdown, html_blocks)


def render_digest(alerts: Sequence[Alert], *, timezone: ZoneInfo, since: datetime | None = None) -> Message:
    """Stories in one digest: a header, then one block per story (never dropped; the
    sender splits a digest too long for its channel between stories)."""
    esc = html.escape
    watchlists = sorted({w for a in alerts for w in a.watchlists})
    count = f"{len(alerts)} {'story' if len(alerts) == 1 else 'stories'}"
    subject = f"[{', '.join(watchlists)}] digest: {count}"
    header = f"Digest: {count}"
    if since is not None:
        header += f" since {since.astimezone(timezone).strftime('%Y-%m-%d %H:%M %Z')}"
    text, markdown = [header], [f"**{escape_markdown(header)}**"]
    html_blocks = [f"<p><strong>{esc(header)}</strong></p>"]
    for alert in alerts:
        title = alert.title.strip() or alert.url
        when = when_text(alert.published, alert.first_seen, timezone)
        why = "; ".join(f"{r.watchlist}: {', '.join(r.terms)}" for r in alert.reasons)
        lines = [f"{alert.source_name}, {when}", why]
        lines += [f"{r.watchlist} matched {r.url}" for r in alert.also if r.url and r.url != alert.url]
        if alert.also_at:
            lines.append(f"Also at: {', '.join(alert.also_at)}")
        text.append(f"- {title}\n  " + "\n  ".join(lines) + f"\n  {alert.url}")
        markdown.append(f"- **{escape_markdown(title)}**  \n  " + "  \n  ".join(escape_markdown(line) for line in lines)
                        + f"  \n  {alert.url}")
        html_blocks.append(f"<p><strong>{esc(title)}</strong><br>" + "<br>".join(esc(line) for line in lines)
                           + f'<br><a href="{esc(alert.url, quote=True)}">{esc(alert.url)}</a></p>')
    return _message(subject, text, markdown, html_blocks)


def pieces(snippet: Snippet) -> list[tuple[str, bool]]:
    """The snippet's text as (piece, is a marked hit) in order; empty pieces left out."""
    found: list[tuple[str, bool]] = []
    at = 0
    for start, end in snippet.marks:
        found.append((snippet.text[at:start], False))
        found.append((snippet.text[start:end], True))
        at = end
    found.append((snippet.text[at:], False))
    return [(piece, marked) for piece, marked in found if piece]


def snippet_markdown(snippet: Snippet) -> str:
    """The snippet in Markdown, hits in **bold**. Spaces at a hit's ends stay outside the
    asterisks, where CommonMark would not read them as emphasis."""
    out = []
    for piece, marked in pieces(snippet):
        core = piece.strip()
        if marked and core:
            lead, trail = piece[: len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()):]
            out.append(f"{lead}**{escape_markdown(core)}**{trail}")
        else:
            out.append(escape_markdown(piece))
    return "".join(out)


def snippet_html(snippet: Snippet) -> str:
    """The snippet in HTML, hits in <b> (which every HTML channel, Telegram's included, keeps)."""
    return "".join(f"<b>{html.escape(piece)}</b>" if marked else html.escape(piece)
                   for piece, marked in pieces(snippet))


def escape_markdown(value: str) -> str:
    """Escape Markdown control characters in source text so titles can't restyle a message."""
    return "".join("\\" + ch if ch in "\\`*_{}[]<>#|~" else ch for ch in value)
