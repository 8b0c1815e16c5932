"""`monitor schema`: the JSON Schema of monitor.yaml (or of a watch-list file), for editors."""

from __future__ import annotations

import click


@click.command()
@click.option("--watchlist", is_flag=True, help="The schema of a watch-list file instead of monitor.yaml.")
def schema(watchlist: bool) -> None:
    """Print the JSON Schema of monitor.yaml, generated from the config models.

    The repository ships it as schema/monitor.schema.json and schema/watchlist.schema.json;
    a `# yaml-language-server: $schema=...` comment at the top of a YAML file points an
    editor at it.
    """
    from monitor.config.json_schema import dumps, monitor_schema, watchlist_schema

    click.echo(dumps(watchlist_schema() if watchlist else monitor_schema()), nl=False)
