"""The one multiprocessing context the daemon's child processes come from.

Page workers and the config loader of a reload fork from one forkserver, which imports
the extractor once (so workers start in milliseconds and share those pages). Whoever
starts the forkserver first must ask for the same preload, hence one place for it.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import ForkServerContext

PRELOAD = ["monitor.pages", "monitor.extract"]


def forkserver() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context
