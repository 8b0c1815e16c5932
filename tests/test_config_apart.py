"""The daemon reads its config in a child process: same result, same errors, secrets still redacted."""

from __future__ import annotations

import asyncio
import multiprocessing.forkserver
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from monitor import redact as redact_module
from monitor.config import Config, apart, load_config
from monitor.config.apart import load_config_apart, reload_config_apart
from monitor.errors import ConfigError
from monitor.processes import forkserver
from monitor.redact import redact
from tests import processes
from tests.test_daemon import wait_for

CONFIG = """\
database: monitor.db
channels:
  desk: "json://127.0.0.1:9/?token=${DESK_TOKEN}"
watchlists:
  - name: army
    keywords: [Kayani, ISAF]
    notify: [desk]
sources:
  - {id: ispr, url: "https://ispr.example/press", every: 5m}
  - {id: dawn, url: "https://dawn.example/feed", cron: "0 9 * * 1-5"}
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DESK_TOKEN", "s3cr3t/desk:token")
    path = tmp_path / "monitor.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(autouse=True)
def children_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here fails if the config is parsed in the test's own process: a fork child
    has another pid, a forkserver child its own unpatched module. Start-up is taken to be one
    thread, as a daemon's is; threads other tests left would make it parse in-process."""
    parent, real = os.getpid(), apart.load_config

    def guarded(path: Path, **options: Any) -> Config:
        if os.getpid() == parent:
            pytest.fail("the config was parsed in the daemon's own process")
        return real(path, **options)

    monkeypatch.setattr(apart, "load_config", guarded)
    monkeypatch.setattr(apart, "_single_threaded", lambda: True)


def test_the_child_returns_the_config_load_config_returns(config_file: Path) -> None:
    assert load_config_apart(config_file) == load_config(config_file)


def test_sources_share_their_equal_parts_across_the_handover(config_file: Path) -> None:
    """Sources given the same fields hold one set of their names, and a name taken from
    the id is the id's string (memory at 10,000 sources); the sharing survives the pickle,
    and a copy with more fields gets a set of its own."""
    listing = "kind: html, every: 10m, select: {item: li.release, link: a}"
    config_file.write_text(CONFIG + "  - {id: app, url: \"https://app.example/feed\", every: 10m}\n"
                           f"  - {{id: a1, url: \"https://a.example/1\", {listing}}}\n"
                           f"  - {{id: a2, url: \"https://a.example/2\", {listing}}}\n")
    ispr, dawn, app, a1, a2 = load_config_apart(config_file).sources
    assert ispr.__pydantic_fields_set__ is app.__pydantic_fields_set__  # same fields given
    assert dawn.__pydantic_fields_set__ is not ispr.__pydantic_fields_set__  # cron, not every
    assert ispr.name is ispr.id
    # Equal values, each written out in the file, are one object each: selectors, kind, interval.
    assert a1.select == a2.select and a1.select is a2.select
    assert a1.kind is a2.kind and a1.every is a2.every is app.every
    assert a1.url != a2.url and a1.id is not a2.id


def test_equal_selectors_given_differently_keep_what_each_source_gave() -> None:
    """pydantic's == ignores which fields were given: selectors equal once validated (a
    link of "a" written out, or taken as the default) stay apart, each with its own
    fields-set, so that what a source was given is still what it says it was given."""
    from monitor.config.load import _sharing_equal_parts
    from monitor.config.schema import Selectors, SourceConfig

    given, defaulted = Selectors(item="li", link="a"), Selectors(item="li")
    assert given == defaulted and given.model_fields_set != defaulted.model_fields_set
    b1, b2, b3 = _sharing_equal_parts(
        SourceConfig(id=f"b{n}", url=f"https://b.example/{n}", kind="html", select=select)
        for n, select in ((1, given), (2, defaulted), (3, Selectors(item="li"))))
    assert b1.select is given and b2.select is defaulted and b3.select is defaulted


def test_values_from_the_environment_stay_redacted_in_the_daemon(config_file: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the child substituted ${DESK_TOKEN}; the daemon must still know to hide its value."""
    monkeypatch.setattr(redact_module, "_known", {})  # as in a daemon that never parsed the file itself
    config = load_config_apart(config_file)
    (url,) = config.channels["desk"]
    assert url.endswith("token=s3cr3t/desk:token")
    assert redact(f"posting to {url}") == "posting to json://127.0.0.1:9/?token=${DESK_TOKEN}"
    assert redact("token=s3cr3t%2Fdesk%3Atoken") == "token=${DESK_TOKEN}"  # as a URL library may quote it


def test_a_broken_config_raises_the_same_problems_from_the_child(config_file: Path) -> None:
    config_file.write_text(CONFIG.replace("every: 5m", "every: fortnightly"))
    with pytest.raises(ConfigError) as here:
        load_config(config_file)
    with pytest.raises(ConfigError) as apart:
        load_config_apart(config_file)
    assert apart.value.problems == here.value.problems
    assert str(apart.value) == str(here.value) and f"{config_file}:9" in str(apart.value)


def test_a_reload_reads_in_a_child_while_the_loop_runs_on(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload's child comes from the forkserver, with the daemon's environment of now
    (the forkserver's own is older); the loop keeps ticking and the secrets stay known."""
    forkserver()
    multiprocessing.forkserver.ensure_running()  # started while DESK_TOKEN held the old value
    monkeypatch.setenv("DESK_TOKEN", "r3l0aded/token")
    monkeypatch.setattr(redact_module, "_known", {})
    async def reload() -> tuple[object, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await asyncio.to_thread(lambda: None)  # the executor's thread, as in the daemon
        ticks = 0  # counted while the reload runs, not before
        config = await reload_config_apart(config_file)
        ticker.cancel()
        return config, ticks

    config, ticks = asyncio.run(reload())
    assert ticks > 0
    assert config.channels["desk"] == ("json://127.0.0.1:9/?token=r3l0aded/token",)  # type: ignore[attr-defined]
    assert redact("token=r3l0aded%2Ftoken") == "token=${DESK_TOKEN}"


def _big_config(tmp_path: Path) -> Path:
    """A config whose load takes a child a second or two (20,000 sources)."""
    sources = "".join(f'  - {{id: s{i:05d}, url: "https://site{i}.example/feed"}}\n' for i in range(20000))
    config = tmp_path / "monitor.yaml"
    config.write_text("database: monitor.db\nchannels: {desk: \"console://\"}\n"
                      "watchlists: [{name: army, keywords: [ISAF], notify: [desk]}]\nsources:\n" + sources)
    return config


def _when_the_child_runs(parent: subprocess.Popen[bytes]) -> set[int]:
    assert wait_for(lambda: bool(processes.children(parent.pid)) or parent.poll() is not None, timeout=30)
    children = processes.children(parent.pid)
    assert children, "the config child never started"
    return children


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_daemon_killed_mid_load_leaves_no_child_behind(tmp_path: Path) -> None:
    """kill -9 of the daemon while its child reads the config: the child finishes, finds
    no one to answer and exits (a pool worker, as the child once was, waited for ever)."""
    config = _big_config(tmp_path)
    code = "import sys; from pathlib import Path; from monitor.config.apart import load_config_apart; " \
           "load_config_apart(Path(sys.argv[1]))"
    parent = subprocess.Popen([sys.executable, "-c", code, str(config)])
    try:
        children = _when_the_child_runs(parent)
    finally:
        parent.kill()
        parent.wait()
    wait_for(lambda: not any(processes.alive(pid) for pid in children), timeout=30)
    left = [pid for pid in children if processes.alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "the config child outlived its daemon"


def test_a_child_that_dies_without_a_word_leaves_the_files_read_here(
        config_file: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(apart, "_load", lambda path, environ: os._exit(3))  # the forked child runs this
    monkeypatch.setattr(apart, "load_config", load_config)  # reading here is the point of this test
    assert load_config_apart(config_file) == load_config(config_file)
    assert "the child process reading" in caplog.text and "died" in caplog.text


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_stop_during_the_load_kills_the_child(config_file: Path) -> None:
    """Ctrl-C or SIGTERM while the child reads (here it would take a minute): the daemon
    kills it rather than wait for it, and no child is left once the daemon has exited."""
    code = ("import signal, sys, time; from pathlib import Path; from monitor import cli; "
            "from monitor.config import apart; apart._load = lambda path, environ: time.sleep(60); "
            "signal.signal(signal.SIGTERM, cli._interrupt_start_up); apart.load_config_apart(Path(sys.argv[1]))")
    parent = subprocess.Popen([sys.executable, "-c", code, str(config_file)], stderr=subprocess.PIPE)
    children = _when_the_child_runs(parent)
    parent.send_signal(signal.SIGTERM)
    _, err = parent.communicate(timeout=30)  # a parent waiting for its child would take 60 s
    assert b"StartUpInterrupted" in err  # the handler `monitor run` starts up with
    assert [pid for pid in children if processes.alive(pid)] == []


def test_a_reload_that_fails_outside_the_files_is_tried_again_a_minute_on(
        config_file: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Not rejected (no ConfigError) and not applied: logged, and tried again after
    RELOAD_RETRY rather than at every 2-second check or never."""
    from monitor import service

    daemon = service.Daemon(load_config(config_file))
    calls: list[Path] = []

    async def failing(path: Path) -> Config:
        calls.append(path)
        raise RuntimeError("the forkserver went away")

    monkeypatch.setattr(service, "reload_config_apart", failing)

    async def checks() -> None:
        _edit(config_file, CONFIG + "# an edit\n")
        await daemon._check_reload()  # the file differs from its stamp: a reload
        await daemon._check_reload()  # within the minute: not tried
        daemon._reload_after -= service.RELOAD_RETRY.total_seconds()
        await daemon._check_reload()

    asyncio.run(checks())
    assert calls == [config_file, config_file]
    assert "reload failed, keeping the running config; trying again in 60s" in caplog.text


def _edit(path: Path, text: str) -> None:
    """Write ``path`` and move its mtime on by 1 ms: two writes within the file system's
    clock tick would otherwise keep one mtime."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(0, max(path.stat().st_mtime_ns, before + 1_000_000)))


def test_a_reload_looks_at_the_files_and_what_the_globs_match_not_the_folders(tmp_path: Path) -> None:
    """An editor's swap file or the database's journal beside the config is no edit, and
    reloaded 10,000 sources for nothing; a new watch-list or alias file the globs match is,
    and so is an edit of one the config has not read yet (its first version was rejected)."""
    (tmp_path / "wl").mkdir()
    (tmp_path / "al").mkdir()
    (tmp_path / "wl" / "a.yaml").write_text("keywords: [ISAF]\nnotify: desk\n")
    (tmp_path / "al" / "army.yaml").write_text("kayani: [Kayani, Kiyani]\n")
    (tmp_path / "monitor.yaml").write_text(
        'database: monitor.db\nchannels: {desk: "console://"}\naliases: al/*.yaml\nwatchlists: [wl/*.yaml]\n')
    config = load_config(tmp_path / "monitor.yaml")
    before = config.stamps
    assert [path for path, _ in before.files] == [tmp_path / "monitor.yaml", tmp_path / "al" / "army.yaml",
                                                  tmp_path / "wl" / "a.yaml"]
    assert before.again() == before
    for noise in ("monitor.db", "monitor.db-wal", "wl/.a.yaml.swp", "wl/notes.txt", "al/army.yaml~"):
        (tmp_path / noise).write_text("")
    assert before.again() == before
    (tmp_path / "al" / "more.yaml").write_text("ispr: ISPR\n")
    with_alias = before.again()
    assert with_alias != before
    added = tmp_path / "wl" / "b.yaml"
    _edit(added, "keywords: [Kayani\nnotify: desk\n")  # a typo: its reload is rejected
    with_typo = before.again()
    assert with_typo != with_alias
    _edit(added, "keywords: [Kayani]\nnotify: desk\n")  # the fix, to a file the config has not read
    assert before.again() != with_typo


def test_a_rejected_edit_is_watched_for_what_it_read(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a rejection the daemon watches what the rejected read took in, as the loader
    found it: the file a new pattern waits for appearing is read at the next check, and an
    unchanged rejected edit is not read again at every one."""
    from monitor import service

    daemon = service.Daemon(load_config(config_file))
    reads: list[int] = []

    async def here(path: Path) -> Config:
        reads.append(1)
        return load_config(path)  # the loader itself, in this process

    monkeypatch.setattr(service, "reload_config_apart", here)
    army = config_file.parent / "army"

    def add_army_list() -> None:
        army.mkdir()
        _edit(army / "list.yaml", "name: army\nkeywords: [Kayani\nnotify: [desk]\n")  # a typo in it

    async def checks() -> list[int]:
        done = []
        for change in (lambda: _edit(config_file, CONFIG.replace("watchlists:\n", "watchlists:\n  - army/*.yaml\n")),
                       None, add_army_list, None,
                       lambda: _edit(config_file, CONFIG.replace("watchlists:\n", "watchlists:\n  - army/*.yaml\n"
                                                                 "  - navy/*.yaml\n")), None):
            if change is not None:
                change()
            await daemon._check_reload()
            done.append(len(reads))
        return done

    assert asyncio.run(checks()) == [1, 1, 2, 2, 3, 3]
