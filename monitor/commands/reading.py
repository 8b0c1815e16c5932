"""What the read-only commands share: load the config and open its database, or exit 2/1."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.store import Store

config_option = click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
                             help="Config file (default: $MONITOR_CONFIG, else config/monitor.yaml).")


def load_or_exit(config_path: Path | None) -> Config:
    from monitor.config import default_config_path, load_config
    from monitor.errors import ConfigError

    try:
        return load_config(config_path or default_config_path())
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def open_store(config: Config) -> Store:
    """The config's database; exit 1 if there is none yet (reading must not create one)."""
    from monitor.store import Store

    if not config.database.exists():
        click.echo(f"no database at {config.database} yet (the first `monitor run` or `monitor once` creates it)",
                   err=True)
        sys.exit(1)
    return Store(config.database)


def parse_since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """``--since 2h`` (a duration back from now) or an ISO date/time like 2026-11-28T09:00."""
    from monitor.config import parse_duration
    from monitor.store import utcnow

    if value is None:
        return None
    try:
        return utcnow() - parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a duration (30m, 2h, 1d) nor a date like 2026-11-28T09:00",
                                 ctx, param) from None
    return moment if moment.tzinfo else moment.astimezone()


since_option = click.option("--since", callback=parse_since, metavar="WHEN",
                            help="Only since then: a duration back from now (2h, 1d) or a date like 2026-11-28T09:00.")
