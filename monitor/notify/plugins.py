"""Which of apprise's plugins a process loads: in the daemon, only those its channels use.

apprise imports every one of its ~190 plugin modules (and requests, oauthlib and the rest
they import) the first time anything asks it about a URL scheme: 14.5 MB of the daemon's
memory, where a json:// and a mailto:// channel need 5.6 MB of it. There is no asking
apprise which module serves a scheme without that import, so the config's child process
(``monitor.config.apart``), which exits anyway, pays for it: ``modules_for`` names the
modules, and the daemon hands them to ``use_only``.

``use_only`` goes through apprise's own ``load_modules(path, name)``, which imports
``name.<entry>`` for each entry of the folder ``path``: given a folder whose entries are
named after the wanted modules, it imports those and marks apprise as loaded. A process
that never calls ``use_only`` (the other commands) gets every plugin, as before.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from apprise import Apprise
from apprise.decorators import notify
from apprise.manager_plugins import NotificationManager

from monitor.notify.console import print_alert

log = logging.getLogger(__name__)

_PACKAGE = "apprise.plugins"
_CONSOLE = "console"
_MANAGER = NotificationManager()  # type: ignore[no-untyped-call]  # a singleton: the one every Apprise() object looks schemes up in


def modules_for(urls: Iterable[str]) -> frozenset[str]:
    """The apprise plugin modules (entries of ``apprise.plugins``) serving these URLs.
    Imports every plugin: call it in a process that is about to exit, or where every plugin
    may be loaded (after ``use_only`` it loads the rest)."""
    _load_all()
    names = set()
    for url in urls:
        # As a Target reads it: an https:// webhook URL is known by no scheme, but the
        # plugin whose native URL it is (Slack, Discord) takes it.
        loaded = Apprise()
        if loaded.add(url):
            for plugin in loaded:
                names.update(_entry(type(plugin).__module__))
    return frozenset(names)


def url_problem(url: str) -> str | None:
    """Why apprise cannot send to ``url``, or None if it can. Loads every plugin, as
    ``modules_for`` does. The reason names the URL's scheme, never the rest: it may hold a token."""
    _load_all()
    with _apprise_quiet(logging.CRITICAL):  # it would log the URL it could not read
        if Apprise().add(url):
            return None
    scheme = url.partition("://")[0].lower()
    if scheme in ("http", "https"):
        return (f"apprise knows no service at this {scheme}:// address (a plain webhook is json://, "
                f"jsons://, form:// or xml://; see apprise's list of services)")
    if scheme not in _MANAGER:
        return f"apprise has no service with the scheme {scheme}:// (a typo? see apprise's list of services)"
    return (f"apprise cannot read this {scheme}:// URL: a part its service needs is missing or malformed "
            f"(see the service's page in apprise's wiki)")


def _load_all() -> None:
    with _apprise_quiet(logging.ERROR):  # after use_only it names each module it had already
        _MANAGER.load_modules()  # type: ignore[no-untyped-call]
    register_console()


@contextmanager
def _apprise_quiet(level: int) -> Iterator[None]:
    apprise_log = logging.getLogger("apprise")
    before = apprise_log.level
    apprise_log.setLevel(level)
    try:
        yield
    finally:
        apprise_log.setLevel(before)


def _entry(module: str) -> list[str]:
    """The entry of apprise.plugins a module is, or is inside of ([] for one outside)."""
    parts = module.split(".")
    return [parts[2]] if len(parts) > 2 and ".".join(parts[:2]) == _PACKAGE else []


def use_only(modules: Iterable[str]) -> None:
    """Load these plugin modules, if not yet loaded, and no others: apprise then knows their
    schemes (and console://) and takes itself for loaded. A scheme of another module is
    then unknown to it, so every URL the process will use must be among those named."""
    loaded = {name for entry in _MANAGER for name in _entry(entry["path"])} if _MANAGER else set()
    missing = sorted(set(modules) - loaded)
    if _MANAGER and not missing:
        return
    try:
        with tempfile.TemporaryDirectory(prefix="apprise-plugins-") as listing:
            for name in missing:
                (Path(listing) / name).mkdir()
            _MANAGER.load_modules(path=listing, name=_PACKAGE)  # type: ignore[no-untyped-call]
    except OSError as exc:  # no writable temporary folder (a read-only root, say): all of them, then
        log.warning("apprise plugins: loading all of them, as no folder to name the few in could be made: %s", exc)
        modules_for(())
    log.debug("apprise plugins loaded: %s", ", ".join(missing) or "none")
    register_console()


def register_console() -> None:
    """Make ``console://`` known to apprise (once); in a process that did not call
    ``use_only`` this loads every plugin, as apprise's first lookup does."""
    if _CONSOLE not in _MANAGER:
        notify(on=_CONSOLE, name="press-monitor console")(print_alert)  # type: ignore[no-untyped-call]
