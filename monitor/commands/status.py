"""`monitor status`: each source's health and the outbox, from the database."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitor.commands.reading import config_option, load_or_exit, open_store


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables.")
def status(config_path: Path | None, as_json: bool) -> None:
    """Show each source's last poll, failures, items and next poll, and the outbox per channel.

    Reads the database only, so it is safe to run while the daemon runs.
    """
    from monitor import report
    from monitor.store import utcnow

    config = load_or_exit(config_path)
    store = open_store(config)
    try:
        view = report.build_status(config, store, now=utcnow())
    finally:
        store.close()
    click.echo(json.dumps(report.as_json(view), indent=2) if as_json else report.render_status(view))
