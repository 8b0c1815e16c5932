"""`monitor items`: the newest stored items and the watch lists they matched."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from monitor.commands.reading import config_option, load_or_exit, narrowed, open_store, since_option


@click.command()
@config_option
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")
@since_option
@click.option("--matched", is_flag=True, help="Only items that matched a watch list.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")
def items(config_path: Path | None, source_ids: tuple[str, ...], since: datetime | None, matched: bool,
          limit: int, as_json: bool) -> None:
    """List recent items, newest first, with their source and matched watch lists."""
    from monitor import report
    from monitor.store import utcnow
    from monitor.store_report import recent_items

    config = load_or_exit(config_path)
    store = open_store(config)
    since = narrowed(config, store, since=since, source_ids=source_ids)
    try:
        found = recent_items(store, source_ids=source_ids, since=since, matched_only=matched, limit=limit)
    finally:
        store.close()
    click.echo(json.dumps(report.as_json(found), indent=2) if as_json else report.render_items(found, now=utcnow()))
