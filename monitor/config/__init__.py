"""Configuration: YAML files -> validated, frozen models, or a ConfigError listing every problem.

    default_config_path()  $MONITOR_CONFIG, else config/monitor.yaml
    load_config(path)      -> Config, or raises ConfigError(problems)
    summarize(config)      -> the text `monitor validate` prints
    report(error, stream)  writes each problem to stream (stderr) and returns exit code 2

The contract (keys, defaults, messages) is DESIGN.md section 2.
"""

from __future__ import annotations

import sys
from typing import TextIO

from monitor.config.load import default_config_path, load_config
from monitor.config.schema import (
    Config,
    Defaults,
    Selectors,
    SourceConfig,
    WatchListConfig,
    format_duration,
    parse_duration,
)
from monitor.config.summary import summarize
from monitor.errors import ConfigError

EXIT_CONFIG = 2


def report(error: ConfigError, stream: TextIO | None = None) -> int:
    """Write each problem on its own line to ``stream`` (stderr); return 2, the exit code."""
    out = sys.stderr if stream is None else stream
    for problem in error.problems:
        out.write(f"{problem}\n")
    return EXIT_CONFIG


__all__ = [
    "EXIT_CONFIG",
    "Config",
    "ConfigError",
    "Defaults",
    "Selectors",
    "SourceConfig",
    "WatchListConfig",
    "default_config_path",
    "format_duration",
    "load_config",
    "parse_duration",
    "report",
    "summarize",
]
