"""`monitor health`: ask the running daemon's /healthz, for container and service checks."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.commands.reading import config_option, load_or_exit

# A daemon listening on every address is asked on loopback.
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


@click.command()
@config_option
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the answer.")
def health(config_path: Path | None, timeout: float) -> None:
    """Exit 0 if the daemon's /healthz answers 200, else print why and exit 1.

    Needs `http: {listen: ...}` in the config; a Docker HEALTHCHECK runs this.
    """
    import httpx

    from monitor.config.schema import listen_address

    listen = _listen(config_path)
    if listen is None:
        click.echo("http.listen is not set in the config, so the daemon serves no /healthz "
                   "(add `http: {listen: 127.0.0.1:9108}`)", err=True)
        sys.exit(2)
    host, port = listen_address(listen)
    host = _LOOPBACK.get(host, host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    try:
        response = httpx.get(url, timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        click.echo(f"{url}: no answer ({type(exc).__name__}): is `monitor run` running?", err=True)
        sys.exit(1)
    click.echo(f"{url}: {response.status_code} {response.text.strip()}", err=response.status_code != 200)
    sys.exit(0 if response.status_code == 200 else 1)


def _listen(config_path: Path | None) -> str | None:
    """The config's ``http.listen``. From the file alone when the config as a whole does not
    load: the daemon runs on the last config that did (a reload keeps it), so an edit with a
    typo must not make its health check fail and a container restart into that typo."""
    from monitor.commands.reading import reading_environ
    from monitor.config import default_config_path, load_config
    from monitor.errors import ConfigError

    path = config_path or default_config_path()
    try:
        config = load_config(path, environ=reading_environ())
    except ConfigError as exc:
        listen = _listen_in_file(path)
        if listen is None:  # no address to ask: the config's problems, and exit 2
            config = load_or_exit(config_path)
        else:
            click.echo(f"{path}: the config has problems (`monitor validate` lists them, {len(exc.problems)} "
                       "found); asking the running daemon all the same", err=True)
            return listen
    return config.http.listen if config.http is not None else None


def _listen_in_file(path: Path) -> str | None:
    import yaml

    from monitor.config.schema import listen_address

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    http = raw.get("http") if isinstance(raw, dict) else None
    listen = http.get("listen") if isinstance(http, dict) else None
    if not isinstance(listen, str) or "${" in listen:
        return None
    try:
        listen_address(listen)
    except ValueError:
        return None
    return listen
