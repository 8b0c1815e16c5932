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

The child is a process of its own, not a pool's worker: it sends one answer down a pipe
and exits. A pool's worker waits for its next job, and one whose daemon was killed (kill -9,
the OOM killer) mid-load waited for ever, as its own copy of the pool's pipe kept it open.

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
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast

from monitor.config.load import load_config
from monitor.config.schema import Config
from monitor.notify import plugins
from monitor.processes import forkserver
from monitor.redact import adopt, registered

log = logging.getLogger(__name__)


Loaded = tuple[Config, dict[str, str], frozenset[str]]  # the config, its secrets, its apprise plugin modules


def _load(path: Path, environ: dict[str, str]) -> Loaded:
    config = load_config(path, environ=environ, channel_url_problem=plugins.url_problem)
    return config, registered(), plugins.modules_for(_channel_urls(config))


def _answer(unused: Connection, answer: Connection, path: Path, environ: dict[str, str]) -> None:
    """The child: load, send the config or the error, exit."""
    unused.close()  # a fork's copy of the daemon's end: open, a send to a dead daemon would block for ever
    # Ctrl-C, and systemd's SIGTERM, reach the whole process group: the daemon decides what
    # stops (it kills this child when it stops during start-up), and the child is done in
    # a second anyway.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        outcome: tuple[str, object] = ("config", _load(path, environ))
    except Exception as exc:  # ConfigError above all; whatever it is, the daemon raises it
        outcome = ("error", exc)
    try:
        answer.send(outcome)
    except BrokenPipeError:
        pass  # the daemon is gone
    finally:
        answer.close()


def _run_child(context: ForkContext | ForkServerContext, path: Path,
               started: list[BaseProcess] | None = None) -> tuple[str, object] | None:
    """Start the child and wait for its answer: ("config", Loaded) or ("error", exception),
    or None if it died without a word or sent what cannot be read back. A signal at any
    point (Ctrl-C or SIGTERM during start-up) kills the child: its work is not wanted, and
    it ignores both. ``started`` receives the child, for a caller that may have to kill it
    from another thread."""
    daemon_end, child_end = context.Pipe(duplex=False)
    child = context.Process(target=_answer, args=(daemon_end, child_end, path, dict(os.environ)),
                            name="monitor config", daemon=True)
    try:
        child.start()
        if started is not None:
            started.append(child)
        child_end.close()
        outcome: tuple[str, object] = daemon_end.recv()
        return outcome
    except EOFError:
        return None
    except Exception as exc:  # an answer that pickled but does not unpickle, say
        if child.pid is None:
            raise  # the child could not start: the caller reads the files itself
        log.warning("config: the child's answer could not be read back (%s)", exc)
        return None
    except BaseException:
        if child.pid is not None:
            child.kill()
        raise
    finally:
        child_end.close()
        daemon_end.close()
        if child.pid is not None:
            child.join()


def _config_of(outcome: tuple[str, object] | None, path: Path) -> Config:
    """The config the child sent (its error raised here); read here if the child died."""
    if outcome is None:
        log.warning("config: the child process reading %s died; reading it here instead", path)
        return _load_here(path)
    kind, value = outcome
    if kind == "error":
        assert isinstance(value, BaseException)
        raise value
    return _received(cast(Loaded, value))


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
    config = load_config(path, channel_url_problem=plugins.url_problem)
    plugins.modules_for(_channel_urls(config))
    return config


def load_config_apart(path: Path) -> Config:
    """``load_config(path)`` parsed in a forked child, for start-up (one thread, no event
    loop yet); raises ConfigError as it does."""
    if not _single_threaded():
        return _load_here(path)  # a fork would copy locks other threads hold
    try:
        outcome = _run_child(get_context("fork"), path)
    except OSError as exc:
        log.warning("config: no child process could read %s (%s); reading it here instead", path, exc)
        return _load_here(path)
    return _config_of(outcome, path)


async def reload_config_apart(path: Path) -> Config:
    """``load_config`` for a running daemon, in a child from the forkserver (never a fork of
    the running loop): the event loop goes on while the child parses, in a thread that
    waits for it (starting it may start the forkserver, which imports the extractor).
    Raises ConfigError. A child that cannot start or dies is logged, and the files are read
    here instead, as at start-up: the edit applies either way."""
    started: list[BaseProcess] = []
    try:
        outcome = await asyncio.to_thread(_run_child, forkserver(), path, started)
    except (OSError, EOFError) as exc:  # EOFError: a forkserver that died as it was asked
        log.warning("config: no child process could read %s (%s); reading it here instead", path, exc)
        return _load_here(path)
    except asyncio.CancelledError:
        for child in started:
            child.kill()  # the thread's wait then ends
        raise
    return _config_of(outcome, path)
