"""The built-in ``console://`` channel: alerts printed to standard output."""

from __future__ import annotations

import sys
from typing import Any

from apprise.decorators import notify


@notify(on="console", name="press-monitor console")  # type: ignore[no-untyped-call,untyped-decorator]
def _print_alert(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    # Registered with apprise on import; a daemon under systemd or Docker shows this in its journal.
    rule = "-" * 72
    sys.stdout.write(f"{rule}\n{title}\n{body.rstrip()}\n{rule}\n")
    sys.stdout.flush()
    return True
