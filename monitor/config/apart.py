"""``load_config`` in a child process, for the daemon.

Why: parsing and validating a config of 10,000 sources builds ~40 MB of YAML nodes,
marks and line maps for a second. In the daemon's own process that second set its peak
RSS, and CPython kept most of the freed heap for the process's life. A child process
does the work; the daemon receives the finished models (~1.5 MB pickled at 10,000
sources) and the values taken from ``${ENV}``, which it must go on redacting.

At start-up the daemon is one thread, and a plain fork of it is cheapest; once it runs
(threads of its executor may hold locks a fork would copy held) a reload's child comes
from the forkserver that page workers fork from.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from pathlib import Path

from monitor.config.load import load_config
from monitor.config.schema import Config
from monitor.processes import forkserver
from monitor.redact import adopt, registered

log = logging.getLogger(__name__)


def _load(path: Path) -> tuple[Config, dict[str, str]]:
    config = load_config(path)
    return config, registered()


def _context() -> BaseContext:
    return get_context("fork") if threading.active_count() == 1 else forkserver()


def _received(loaded: tuple[Config, dict[str, str]]) -> Config:
    config, secrets = loaded
    adopt(secrets)
    return config


def load_config_apart(path: Path) -> Config:
    """``load_config(path)``, parsed in a child process; raises ConfigError as it does."""
    try:
        with ProcessPoolExecutor(1, mp_context=_context()) as pool:
            return _received(pool.submit(_load, path).result())
    except BrokenProcessPool:
        log.warning("config: the child process reading %s died; reading it here instead", path)
        return load_config(path)


async def reload_config_apart(path: Path) -> Config:
    """``load_config_apart`` for a running daemon: its event loop goes on while the child parses."""
    pool = ProcessPoolExecutor(1, mp_context=_context())
    try:
        return _received(await asyncio.get_running_loop().run_in_executor(pool, _load, path))
    except BrokenProcessPool:
        log.warning("config: the child process reading %s died; reading it here instead", path)
        return load_config(path)
    finally:
        pool.shutdown(wait=False)
