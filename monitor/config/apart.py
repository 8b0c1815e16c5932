"""``load_config`` in a child process, for the daemon.

Why: parsing and validating a config of 10,000 sources builds ~40 MB of YAML nodes,
marks and line maps for a second. In the daemon's own process that second set its peak
RSS, and CPython kept most of the freed heap for the process's life. A child process
does the work; the daemon receives the finished models (~1.5 MB pickled at 10,000
sources) and the values taken from ``${ENV}``, which it must go on redacting.

At start-up the daemon is one thread, and a plain fork of it is cheapest; once it runs
(threads of its executor may hold locks a fork would copy held, and the child would share
the loop's descriptors) a reload's child comes from the forkserver page workers fork from.
The daemon's environment goes with the job: the forkserver's is as old as the forkserver.

The child also names the apprise plugin modules the channels use (``monitor.notify.plugins``),
so the daemon loads only those. Where the files are read in the daemon itself, every
plugin is loaded there, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from monitor.config.load import load_config
from monitor.config.schema import Config
from monitor.notify import plugins
from monitor.processes import forkserver
from monitor.redact import adopt, registered

log = logging.getLogger(__name__)


Loaded = tuple[Config, dict[str, str], frozenset[str]]  # the config, its secrets, its apprise plugin modules


def _load(path: Path, environ: dict[str, str]) -> Loaded:
    # Ctrl-C reaches the whole process group; the daemon decides what stops, and this child
    # is done in a second anyway.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = load_config(path, environ=environ)
    return config, registered(), plugins.modules_for(_channel_urls(config))


def _channel_urls(config: Config) -> list[str]:
    return [url for urls in config.channels.values() for url in urls]


def _single_threaded() -> bool:
    return threading.active_count() == 1


def _received(loaded: Loaded) -> Config:
    config, secrets, modules = loaded
    adopt(secrets)
    plugins.use_only(modules)
    return config


def _load_here(path: Path) -> Config:
    """The fallback: the files read in this process, and every apprise plugin loaded."""
    config = load_config(path)
    plugins.modules_for(_channel_urls(config))
    return config


def load_config_apart(path: Path) -> Config:
    """``load_config(path)`` parsed in a forked child, for start-up (one thread, no event
    loop yet); raises ConfigError as it does."""
    if not _single_threaded():
        return _load_here(path)  # a fork would copy locks other threads hold
    try:
        with ProcessPoolExecutor(1, mp_context=get_context("fork")) as pool:
            return _received(pool.submit(_load, path, dict(os.environ)).result())
    except BrokenProcessPool:
        log.warning("config: the child process reading %s died; reading it here instead", path)
        return _load_here(path)


async def reload_config_apart(path: Path) -> Config:
    """``load_config`` for a running daemon, in a child from the forkserver (never a fork of
    the running loop): the event loop goes on while the child parses. Raises ConfigError.
    A child that cannot start or dies is logged, and the files are read here instead, as at
    start-up: the edit applies either way."""
    pool = ProcessPoolExecutor(1, mp_context=forkserver())
    try:
        # Submitting may start the forkserver, which imports the extractor: not on the loop.
        future = await asyncio.to_thread(pool.submit, _load, path, dict(os.environ))
        return _received(await asyncio.wrap_future(future))
    except (BrokenProcessPool, OSError) as exc:
        log.warning("config: no child process could read %s (%s); reading it here instead", path, exc)
        return _load_here(path)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
