"""Per-watch-list message templates: Jinja2 in a sandbox, checked when the config loads.

A watch list's ``template`` replaces the body of its immediate alerts (digests keep the
built-in layout). The same template is rendered once per format; every variable is
escaped for the format it lands in (HTML-escaped for HTML, Markdown control characters
backslashed for Markdown), so source text can never inject markup. Variables:

    title       the item's title
    source      the source's name
    published   the published (or first-seen) time, in the config's timezone, as text
    url         the item's canonical URL
    watchlists  the names of the watch lists that fired (a list)
    terms       every matched term (a list)
    snippet     the first watch list's first snippet, plain
    snippets    every snippet of every watch list that fired, one per matched term (a list
                of {watchlist, term, text, marked}: ``text`` plain, ``marked`` with the terms
                in **bold** in Markdown and <b> in HTML, built from separately escaped pieces)
    matches     a list of {watchlist, terms, snippet}, one per watch list that fired
    also_at     the other sources that carried the same story (a list)

An unknown variable is a config error, not an empty string.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from monitor.models import Snippet
from monitor.notify.render import Alert, Message, escape_markdown, snippet_html, snippet_markdown, when_text

VARIABLES = ("title", "source", "published", "url", "watchlists", "terms", "snippet", "snippets", "matches",
             "also_at")


class _Verbatim(str):
    """A value printed as it is in Markdown: the URL, which escaping would change, and a
    marked snippet, already escaped piece by piece."""


def _markdown_value(value: Any) -> Any:
    return escape_markdown(value) if isinstance(value, str) and not isinstance(value, _Verbatim) else value


def _environment(fmt: str) -> SandboxedEnvironment:
    if fmt == "markdown":
        return SandboxedEnvironment(undefined=StrictUndefined, finalize=_markdown_value)
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=fmt == "html")


def template_problem(source: str) -> str | None:
    """Why this template cannot be used (a sentence), or None if it renders."""
    sample = {name: "x" for name in VARIABLES} | {
        "watchlists": ["w"], "terms": ["t"], "also_at": [],
        "matches": [{"watchlist": "w", "terms": ["t"], "snippet": "s"}],
        "snippets": [{"watchlist": "w", "term": "t", "text": "s", "marked": "s"}]}
    try:
        _environment("text").from_string(source).render(sample)
    except TemplateError as exc:
        lineno = getattr(exc, "lineno", None)
        line = f" on its line {lineno}" if lineno else ""
        return (f"is not a usable template{line}: {exc.message or type(exc).__name__} "
                f"(expected Jinja2 using only: {', '.join(VARIABLES)})")
    except Exception as exc:  # noqa: BLE001 - the template is foreign code: any fault is its problem
        return (f"is not a usable template: rendering it raised {type(exc).__name__}: {exc} "
                f"(expected Jinja2 using only: {', '.join(VARIABLES)})")
    return None


def context(alert: Alert, *, timezone: ZoneInfo, fmt: str = "text") -> dict[str, Any]:
    """The template's variables for one format (``marked`` snippets differ by format)."""
    reasons = alert.reasons
    return {
        "title": alert.title.strip() or alert.url, "source": alert.source_name,
        "published": when_text(alert.published, alert.first_seen, timezone), "url": _Verbatim(alert.url),
        "watchlists": list(alert.watchlists), "terms": list(dict.fromkeys(t for r in reasons for t in r.terms)),
        "snippet": alert.snippet, "also_at": list(alert.also_at),
        "matches": [{"watchlist": r.watchlist, "terms": list(r.terms), "snippet": r.snippet} for r in reasons],
        "snippets": [{"watchlist": r.watchlist, "term": s.term, "text": s.text, "marked": _marked(s, fmt)}
                     for r in reasons for s in r.shown],
    }


def _marked(snippet: Snippet, fmt: str) -> str:
    if fmt == "html":
        return Markup(snippet_html(snippet))
    if fmt == "markdown":
        return _Verbatim(snippet_markdown(snippet))
    return snippet.text


def render_template(alert: Alert, source: str, *, timezone: ZoneInfo) -> Message:
    """The alert with ``source`` as its body, in every format. Validated at config load,
    but a real alert can still fail it (a field that is empty only sometimes); the caller
    falls back to the built-in layout then."""
    values = context(alert, timezone=timezone)
    text = _environment("text").from_string(source).render(values).strip()
    markdown = _environment("markdown").from_string(source).render(
        context(alert, timezone=timezone, fmt="markdown")).strip()
    html_text = _environment("html").from_string(source).render(context(alert, timezone=timezone, fmt="html")).strip()
    html_body = "<p>" + html_text.replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"
    title = f"[{', '.join(alert.watchlists)}] {values['title']}"
    return Message(title=title, text=text + "\n", markdown=markdown + "\n", html=html_body,
                   text_blocks=tuple(text.split("\n\n")), markdown_blocks=tuple(markdown.split("\n\n")),
                   html_blocks=tuple(f"<p>{b}</p>" for b in html_body[3:-4].split("</p><p>")))
