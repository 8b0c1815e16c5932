"""A progress bar for long CLI work: drawn on a terminal, silent when output is piped or logged."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click


def draws(total: int, *, minimum: int = 2) -> bool:
    """Whether ``progress`` draws a bar for this many steps: on a terminal, for ``minimum`` or more."""
    return total >= minimum and sys.stderr.isatty()


@contextmanager
def progress(total: int, *, label: str, minimum: int = 2) -> Iterator[Callable[[Any], None]]:
    """Yield a function to call once per finished step; it draws a bar on stderr only when
    ``draws`` says so."""
    if not draws(total, minimum=minimum):
        yield lambda _done: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as bar:
        yield lambda _done: bar.update(1)
