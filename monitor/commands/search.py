"""`monitor search`: full-text search over the stored archive (titles and main texts)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from monitor.commands.reading import config_option, load_or_exit, narrowed, open_store, since_option


@click.command()
@click.argument("query", nargs=-1, required=True)
@config_option
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")
@since_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many.")
def search(query: tuple[str, ...], config_path: Path | None, source_ids: tuple[str, ...], since: datetime | None,
           limit: int) -> None:
    """Find stored items whose title or text holds every word of QUERY, best first.

    Words and "quoted phrases" are matched as typed (AT&T and C++ are fine); A OR B finds
    either; NOT word leaves out items with it (so does -word inside a quoted query:
    monitor search "Karachi -cricket").
    """
    from zoneinfo import ZoneInfo

    from monitor.store_search import QueryError
    from monitor.store_search import search as find

    config = load_or_exit(config_path)
    store = open_store(config)
    since = narrowed(config, store, since=since, source_ids=source_ids)
    try:
        found = find(store.db, " ".join(query), source_ids=source_ids, since=since, limit=limit)
    except QueryError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    finally:
        store.close()
    zone = ZoneInfo(config.timezone)
    for item in found:
        when = (item.published or item.first_seen).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        # On one line, like the result's others: the text's own line breaks made a snippet's
        # second half start at the margin, where it read as the next result.
        click.echo(f"{when}  {item.source_id}  {item.title}\n  {' '.join(item.snippet.split())}\n  {item.url}")
    click.echo(f"{len(found)} item{'s' if len(found) != 1 else ''} found")
