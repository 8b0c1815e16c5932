"""The `monitor` command: thin click commands that parse, call and print.

Heavy libraries are imported inside the commands so `monitor --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from monitor.config import Config

CONFIG_HELP = "Config file (default: $MONITOR_CONFIG, else config/monitor.yaml)."


def _fail_config(exc: Exception) -> NoReturn:
    click.echo(str(exc), err=True)
    sys.exit(2)


def _load(config_path: Path | None, *, apart: bool = False) -> Config:
    """The config, or exit 2 with its problems. ``apart``: parsed in a child process (the daemon's way)."""
    from monitor.config import default_config_path, load_config
    from monitor.config.apart import load_config_apart
    from monitor.errors import ConfigError
    from monitor.notify.plugins import url_problem

    path = config_path or default_config_path()
    try:  # every command that loads the config here delivers or checks: apprise reads its channel URLs
        return load_config_apart(path) if apart else load_config(path, channel_url_problem=url_problem)
    except ConfigError as exc:
        _fail_config(exc)


class StartUpInterrupted(KeyboardInterrupt):
    """SIGTERM or Ctrl-C while `monitor run` starts. A subclass, not KeyboardInterrupt
    itself: CPython (3.8 on) notes a KeyboardInterrupt that leaves a string run by exec() or
    eval() (dataclasses and namedtuples build their methods so, at import) as unhandled, even once
    caught, and `python -m monitor` then ends by SIGINT (exit -2) after a clean stop."""


def _interrupt_start_up(signum: int, frame: object) -> NoReturn:
    raise StartUpInterrupted


config_option = click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP)


class _Commands(click.Group):
    """The command group, with the one error every command that opens the database may meet."""

    def invoke(self, ctx: click.Context) -> object:
        from monitor.errors import StoreError

        try:
            return super().invoke(ctx)
        except StoreError as exc:  # like a config error: exit 2, no traceback, no restart loop
            click.echo(f"monitor: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-vv includes libraries).")
@click.option("--log-format", type=click.Choice(["auto", "text", "json"]), default="auto", show_default=True,
              help="Log lines as text (terminal) or JSON lines (otherwise).")
@click.version_option(package_name="press-monitor", prog_name="monitor")
@click.pass_context
def main(ctx: click.Context, verbose: int, log_format: str) -> None:
    """Watch press-release and news sources; alert when items match your watch lists."""
    from monitor.logs import setup_logging

    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    setup_logging(verbose=verbose, fmt=log_format)


@main.command()
@config_option
def run(config_path: Path | None) -> None:
    """Run the daemon: poll every source on its schedule until SIGTERM or Ctrl-C."""
    import logging
    import signal

    # Until the daemon's own handlers take over, SIGTERM and Ctrl-C unwind start-up
    # (imports and the config load take a second or two), so a stop sent early,
    # e.g. by `systemctl stop` or `docker stop`, still exits 0 with the database closed.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _interrupt_start_up)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload asked before there is a config to reload
    from monitor.errors import ListenError

    log = logging.getLogger("monitor.service")
    try:
        log.info("daemon starting")  # inside: a stop may land while the line is still being written
        from monitor import eventloop
        from monitor.service import Daemon

        eventloop.run(Daemon(_load(config_path, apart=True)).run())
    except StartUpInterrupted:
        log.info("daemon stopped during start-up")
    except ListenError as exc:  # a usage error, like the config's: exit 2, no traceback
        click.echo(f"monitor run: {exc}", err=True)
        sys.exit(2)


@main.command()
@config_option
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Poll only this source (repeatable).")
def once(config_path: Path | None, source_ids: tuple[str, ...]) -> None:
    """Poll each (or the named) source once, deliver alerts, exit 1 if a source failed."""
    from monitor import eventloop
    from monitor.service import poll_once

    config = _load(config_path)
    unknown = sorted(set(source_ids) - {s.id for s in config.sources})
    if unknown:
        known = ", ".join(s.id for s in config.sources)
        raise click.UsageError(f"unknown source {', '.join(unknown)} (configured: {known})")
    from monitor.commands.progress import progress

    with progress(len(source_ids) or len(config.sources), label="polling") as tick:
        results = eventloop.run(poll_once(config, source_ids, on_done=tick))
    for result in results:
        line = f"{result.source_id}: {result.status} new={result.new} matched={result.matched}"
        click.echo(line + (f" error={result.error}" if result.error else ""))
    sys.exit(1 if any(r.failed for r in results) else 0)


@main.command()
@config_option
@click.option("-v", "--verbose", is_flag=True,
              help="Also fetch each source once: items found, and the feeds or WordPress API its page offers; "
                   "exit 1 if one cannot be read.")
def validate(config_path: Path | None, verbose: bool) -> None:
    """Check the config and watch lists; print a summary, or every problem and exit 2."""
    from monitor.config import summarize

    config = _load(config_path)
    click.echo(summarize(config))
    if verbose:
        from monitor import eventloop
        from monitor.probe import describe, probe_all

        probes = eventloop.run(probe_all(config.sources))
        click.echo(describe(probes, {s.id: s.kind for s in config.sources}))
        if any(probe.error is not None for probe in probes):
            sys.exit(1)  # as `monitor once`: a source that cannot be read fails a deploy's check


@main.command("test-notify")
@click.argument("channel")
@config_option
def test_notify(channel: str, config_path: Path | None) -> None:
    """Send a test alert through CHANNEL; exit 1 if it does not go through."""
    from monitor import eventloop
    from monitor.notify.deliver import Target
    from monitor.notify.render import Message

    config = _load(config_path)
    if channel not in config.channels:
        raise click.UsageError(f"unknown channel {channel!r} (configured: {', '.join(config.channels)})")
    text = "This is a test alert from press-monitor. If you can read it, the channel works."
    message = Message(title="press-monitor test alert", text=text, markdown=text, html=f"<p>{text}</p>")

    async def send() -> list[str]:
        targets = [Target(channel, i, url) for i, url in enumerate(config.channels[channel])]
        return [r for r in [await t.send(message) for t in targets] if r is not None]

    failures = eventloop.run(send())
    for reason in failures:
        click.echo(f"{channel}: {reason}", err=True)
    if failures:
        sys.exit(1)
    click.echo(f"{channel}: test alert sent")


from monitor.commands.alerts import alerts  # noqa: E402 - commands register after the group exists
from monitor.commands.backtest import backtest  # noqa: E402
from monitor.commands.check import check  # noqa: E402
from monitor.commands.health import health  # noqa: E402
from monitor.commands.items import items  # noqa: E402
from monitor.commands.schema import schema  # noqa: E402
from monitor.commands.search import search  # noqa: E402
from monitor.commands.status import status  # noqa: E402

main.add_command(status)
main.add_command(items)
main.add_command(alerts)
main.add_command(schema)
main.add_command(health)
main.add_command(check)
main.add_command(search)
main.add_command(backtest)
