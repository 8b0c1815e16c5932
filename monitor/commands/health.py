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

    config = load_or_exit(config_path)
    if config.http is None:
        click.echo("http.listen is not set in the config, so the daemon serves no /healthz "
                   "(add `http: {listen: 127.0.0.1:9108}`)", err=True)
        sys.exit(2)
    host, port = listen_address(config.http.listen)
    host = _LOOPBACK.get(host, host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    try:
        response = httpx.get(url, timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        click.echo(f"{url}: no answer ({type(exc).__name__}): is `monitor run` running?", err=True)
        sys.exit(1)
    click.echo(f"{url}: {response.status_code} {response.text.strip()}", err=response.status_code != 200)
    sys.exit(0 if response.status_code == 200 else 1)
