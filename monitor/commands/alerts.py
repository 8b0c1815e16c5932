"""`monitor alerts`: what was sent where and when, and what is still queued or failed."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from monitor.commands.reading import config_option, load_or_exit, narrowed, open_store, since_option


@click.command()
@config_option
@click.option("--channel", "channels", multiple=True, metavar="NAME", help="Only this channel (repeatable).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(["queued", "sent", "failed"]),
              help="Only alerts in this state (repeatable).")
@since_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")
def alerts(config_path: Path | None, channels: tuple[str, ...], statuses: tuple[str, ...],
           since: datetime | None, limit: int, as_json: bool) -> None:
    """List alerts, newest first: channel, watch list, sent or queued (and why), attempts."""
    from monitor import report
    from monitor.store import utcnow
    from monitor.store_report import recent_alerts

    config = load_or_exit(config_path)
    store = open_store(config)
    since = narrowed(config, store, since=since)
    try:
        found = recent_alerts(store, channels=channels, statuses=statuses, since=since, limit=limit)
    finally:
        store.close()
    click.echo(json.dumps(report.as_json(found), indent=2) if as_json else report.render_alerts(found, now=utcnow()))
