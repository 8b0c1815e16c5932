"""`monitor run` whose start-up is stopped by a signal that lands inside code run by exec(),
as it may during start-up's imports (dataclasses and namedtuples build methods so).

Run as ``python -m tests.stop_in_exec CONFIG SIGNAL`` from the repository: as a module,
like ``python -m monitor``, since CPython decides that exit status differently for a
module than for a script or ``-c``. Used by tests/test_stop.py.
"""

from __future__ import annotations

import sys

from monitor import cli
from monitor.config import apart

BODY = "import os, signal\nos.kill(os.getpid(), signal.{name})\nfor _ in range(10 ** 7):\n    pass\n"


def _load_in_exec(path: object) -> None:
    exec(BODY.format(name=sys.argv[2]))  # the handler runs as os.kill returns, inside exec


if __name__ == "__main__":
    apart.load_config_apart = _load_in_exec
    cli.main(["--log-format", "text", "run", "-c", sys.argv[1]])
