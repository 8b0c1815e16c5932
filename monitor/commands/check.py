"""`monitor check SOURCE_ID`: a dry run of one source (sends nothing, stores nothing)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from monitor.commands.reading import config_option, load_or_exit

if TYPE_CHECKING:
    from monitor.dryrun import CheckedItem, DryRun

FIRST_WORDS = 30


@click.command()
@click.argument("source_id")
@config_option
@click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Check at most this many items (each may cost an article fetch).")
def check(source_id: str, config_path: Path | None, limit: int) -> None:
    """Fetch SOURCE_ID once and show its items and what each watch list would match.

    Shows title, URL, date and the first words of the text matching runs on, for every
    item the listing has (seen before or not). Sends no alert and writes nothing to the
    database. Exits 1 if the listing cannot be read.
    """
    from monitor import eventloop  # here, not at the top: `monitor --help` imports every command module
    from monitor.dryrun import dry_run
    from monitor.errors import FetchError, SourceError
    from monitor.service import build_matcher

    config = load_or_exit(config_path, fetches=True)
    source = next((s for s in config.sources if s.id == source_id), None)
    if source is None:
        known = ", ".join(s.id for s in config.sources) or "none"
        raise click.UsageError(f"unknown source {source_id!r} (configured: {known})")
    try:
        result = eventloop.run(dry_run(source, matcher=build_matcher(config), limit=limit))
    except (FetchError, SourceError) as exc:
        click.echo(f"{source_id}: could not be read: {exc}", err=True)
        sys.exit(1)
    applied = [w.name for w in config.watchlists if w.sources is None or source.id in w.sources]
    click.echo(render(result, zone=ZoneInfo(config.timezone), watchlists=applied))


def render(result: DryRun, *, zone: ZoneInfo, watchlists: list[str]) -> str:
    shown = f", showing {len(result.items)}" if len(result.items) < result.total else ""
    lines = [f"{result.source_id} (kind {result.kind}): {result.total} item(s){shown}"]
    lines += [f"warning: {w}" for w in result.warnings]
    for number, item in enumerate(result.items, 1):
        lines += ["", *_item_lines(number, item, zone, watchlists)]
    lines += ["", "Dry run: no alert was sent and nothing was written to the database."]
    return "\n".join(lines)


def _item_lines(number: int, item: CheckedItem, zone: ZoneInfo, watchlists: list[str]) -> list[str]:
    if item.published is not None:
        when = item.published.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    else:
        when = "no date given (an alert would show the first-seen time)"
    words = item.text.split()
    text = " ".join(words[:FIRST_WORDS]) + (" ..." if len(words) > FIRST_WORDS else "") if words else "(no text)"
    lines = [f"{number}. {item.title or '(no title)'}", f"   {item.url}", f"   date: {when}",
             f"   text ({item.text_origin}, {len(words)} words): {text}"]
    if item.error:
        lines.append(f"   article page: {item.error}")
    fired = {m.watchlist: m for m in item.matches}
    for name in watchlists:
        match = fired.get(name)
        if match is None:
            lines.append(f"   {name}: no match")
        else:
            lines.append(f"   {name}: MATCH on {', '.join(match.terms)}: {match.snippet}")
    return lines
