"""`monitor backtest`: what a watch list, new or edited, would have alerted on the stored archive."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from monitor.commands.progress import draws, progress
from monitor.commands.reading import config_option, load_or_exit, narrowed, open_store, reading_environ, since_option


@click.command()
@click.argument("watchlist_file", metavar="WATCHLIST.yaml", type=click.Path(path_type=Path))
@config_option
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only items of this source (repeatable).")
@since_option
def backtest(watchlist_file: Path, config_path: Path | None, source_ids: tuple[str, ...],
             since: datetime | None) -> None:
    """Run WATCHLIST.yaml over the stored items and print what it would have alerted.

    Nothing is sent and nothing is written: tune a list here before adding it to the
    config. It is checked like the config's own lists (exit 2 on a problem); its terms
    may use the config's aliases.
    """
    from zoneinfo import ZoneInfo

    from monitor.config import report
    from monitor.config.load import load_watchlist
    from monitor.errors import ConfigError
    from monitor.match import Matcher
    from monitor.service import watch_rule
    from monitor.store_search import count_stored_items, stored_items

    config = load_or_exit(config_path)
    try:
        watchlist = load_watchlist(watchlist_file, config, environ=reading_environ())
    except ConfigError as exc:
        sys.exit(report(exc))
    matcher = Matcher([watch_rule(watchlist)], aliases=config.aliases)
    zone = ZoneInfo(config.timezone)
    store = open_store(config)
    since = narrowed(config, store, since=since, source_ids=source_ids)
    scanned = 0
    held: list[str] = []
    try:
        total = count_stored_items(store.db, source_ids=source_ids, since=since)
        # Under a bar, hits wait for its end (it would tear through them on a terminal);
        # piped, they stream, so a broad list over a large archive is not held in memory.
        emit = held.append if draws(total) else click.echo
        alerts = 0
        with progress(total, label="backtesting") as tick:
            for item in stored_items(store.db, source_ids=source_ids, since=since):
                scanned += 1
                for found in matcher.match(source_id=item.source_id, title=item.title, body=item.main_text):
                    when = (item.published or item.first_seen).astimezone(zone).strftime("%Y-%m-%d %H:%M")
                    alerts += 1
                    emit(f"{when}  {item.source_id}  {item.title}\n  matched: {', '.join(found.terms)}\n"
                         f"  {found.snippet}\n  {item.url}")
                tick(item)
    finally:
        store.close()
    for hit in held:
        click.echo(hit)
    click.echo(f"{watchlist.name}: {alerts} alert{'s' if alerts != 1 else ''} in {scanned} stored "
               f"item{'s' if scanned != 1 else ''} (nothing sent)")
