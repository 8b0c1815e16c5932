"""The built-in ``console://`` channel: alerts printed to standard output.
``monitor.notify.plugins.register_console`` makes it known to apprise."""

from __future__ import annotations

import sys
from typing import Any


def print_alert(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    # A daemon under systemd or Docker shows this in its journal.
    rule = "-" * 72
    sys.stdout.write(f"{rule}\n{title}\n{body.rstrip()}\n{rule}\n")
    sys.stdout.flush()
    return True
