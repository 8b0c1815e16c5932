"""What the read-only commands share: load the config and open its database, or exit 2/1."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.standins import StandIns

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.store import Store

config_option = click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
                             help="Config file (default: $MONITOR_CONFIG, else config/monitor.yaml).")


class _UnsetKept(StandIns):
    """The environment, where a variable that is not set reads as a URL that names it,
    ``http://unset.invalid/${NAME}`` (a name that never resolves, RFC 2606), or, where it is
    only part of a value (``https://desk:${PASSWORD}@host/feed``), as ``unset-NAME``: a URL
    in a URL had made the host's part a port that is no port.

    Why: these commands read the database, not the sources or channels, and an operator's
    shell seldom holds the daemon's secrets (systemd's EnvironmentFile, Docker's env). A
    URL, the usual holder of a secret, whether a variable is all of it or a token in it,
    still passes its check; another value made of a variable (a timezone) may not, and says so."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        return self._environ.get(name, f"http://unset.invalid/${{{name}}}")

    def part(self, name: str) -> str:
        return self._environ.get(name, f"unset-{name}")

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


def reading_environ() -> Mapping[str, str]:
    """The environment as the reading commands see it: an unset variable reads as written."""
    return _UnsetKept(os.environ)


def load_or_exit(config_path: Path | None, *, fetches: bool = False) -> Config:
    """The config, or exit 2. A command that only reads the database takes unset variables
    as written (``_UnsetKept``); one that ``fetches`` a source needs them set."""
    from monitor.config import default_config_path, load_config
    from monitor.errors import ConfigError

    try:
        return load_config(config_path or default_config_path(),
                           environ=os.environ if fetches else reading_environ())
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
    return moment  # a date without a zone is in the config's timezone: see ``narrowed``


def narrowed(config: Config, store: Store, *, since: datetime | None,
             source_ids: tuple[str, ...] = ()) -> datetime | None:
    """``--since`` as a moment, a date without a zone read in the config's ``timezone`` (the
    zone every time is shown in); exit 2 for a ``--source`` that neither the config nor the
    database knows (a filter by a typo'd id found nothing, and said so with exit 0)."""
    from zoneinfo import ZoneInfo

    known = {s.id for s in config.sources} | {r[0] for r in store.db.execute("SELECT id FROM sources")}
    unknown = [sid for sid in source_ids if sid not in known]
    if unknown:
        store.close()
        raise click.UsageError(f"unknown source {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})")
    if since is not None and since.tzinfo is None:
        return since.replace(tzinfo=ZoneInfo(config.timezone))
    return since


since_option = click.option("--since", callback=parse_since, metavar="WHEN",
                            help="Only since then: a duration back from now (2h, 1d) or a date like 2026-11-28T09:00 "
                                 "(in the config's timezone unless it gives its own).")
