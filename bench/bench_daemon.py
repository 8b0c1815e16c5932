"""`make bench-daemon`: the real daemon (`monitor run`) with 10,000 sources configured.

Serves the synthetic site of bench/run.py (nginx on loopback addresses) and runs the
daemon on it as an operator would: every source polled every few minutes, first polls
spread over the interval, a publish in the middle so article pages are read by the page
workers. Samples the daemon's memory from /proc once a second and prints the figures the
performance issue names: peak RSS of the daemon process, memory of its page workers
(PSS, shared pages counted once), polls done and their rate, CPU per poll; and how soon
after the publish each alert was queued and reached the desk (a local HTTP receiver that
apprise's ``json://`` posts to), with the planted keywords it caught.

    .venv/bin/python bench/bench_daemon.py [--sources 10000] [--every 2m] [--seconds 300]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from newsite import KEYWORDS, Item, Site  # noqa: E402  (bench/newsite.py)
from procfs import cpu_seconds, descendants, pss_kb, status_kb  # noqa: E402
from run import HOSTS, ROOT, clean_up, ensure_nginx, free_port, loopback_hosts, start_nginx  # noqa: E402

MONITOR = [str(ROOT / ".venv" / "bin" / "python"), "-m", "monitor"]
POLL = re.compile(r"poll source=\S+ status=(\S+)")


def _cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


class Desk(ThreadingHTTPServer):
    """The alerts' recipient: takes what apprise's ``json://`` POSTs, noting when each came."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []  # time.time() of each alert delivered

        desk = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
                pass

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                desk.arrivals.append(time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def _seconds(every: str) -> float:
    """A duration as the config writes it (45s, 2m, 1h) in seconds."""
    found = re.fullmatch(r"(\d+)([smh])", every.strip())
    if found is None:
        raise SystemExit(f"bench: --every {every!r} is not like 45s, 2m or 1h")
    return int(found.group(1)) * {"s": 1, "m": 60, "h": 3600}[found.group(2)]


def _polls(log: Path) -> int:
    """Poll lines the daemon has logged so far."""
    return len(POLL.findall(log.read_text(errors="replace")))


def write_config(work: Path, site: Site, every: str, desk_port: int) -> Path:
    lines = [f"database: {work}/monitor.db", "defaults:", f"  every: {every}", "  timeout: 30s",
             "channels:", f"  desk: \"json://127.0.0.1:{desk_port}/alerts\"", "watchlists:",
             "  - name: bench", f"    keywords: {json.dumps(list(KEYWORDS))}", "    notify: [desk]", "sources:"]
    for s in site.sources:
        lines.append(f"  - {{id: {s.id}, url: \"{s.url}\"}}" if s.kind != "html" else
                     f"  - {{id: {s.id}, url: \"{s.url}\", kind: html, select: {{item: li.release, "
                     f"link: a, title: a, date: .date}}}}")
    config = work / "monitor.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _nearest_rank(ordered: list[float], share: float) -> float:
    """The value ``share`` of the way through sorted ``ordered`` (a percentile, nearest rank)."""
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def alert_latency(database: Path, planted: set[str], published_at: datetime, took: float, every: str) -> str:
    """How soon after the publish the daemon had each alert queued (a match stored with its
    outbox rows, in the poll's commit), counted from when the publish began writing, and
    how many of the planted keywords it caught. The store keeps whole seconds, so the
    publish's time is cut to its second too: each figure is within a second, none low."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT i.url, MIN(m.created_at) FROM matches m JOIN items i ON i.id = m.item_id"
                          " WHERE i.baseline = 0 GROUP BY i.url").fetchall()
    if not rows:
        return "alerts after the publish: none"
    since = published_at.replace(microsecond=0)
    delays = sorted((datetime.fromisoformat(at) - since).total_seconds() for _, at in rows)
    caught = len({url for url, _ in rows} & planted)
    p95 = _nearest_rank(delays, 0.95)
    return (f"alerts after the publish: {len(rows)}, {caught} of the {len(planted)} planted; queued "
            f"{statistics.median(delays):.0f} s after it (median), {p95:.0f} s (95th), {delays[-1]:.0f} s (last), "
            f"sources polled every {every}, the publish {took:.1f} s of writing, times to the second (+0-1 s)")


def delivered(arrivals: list[float], published: float) -> str:
    """How soon after the publish each alert reached the recipient."""
    if not arrivals:
        return "alerts delivered: none"
    delays = sorted(at - published for at in arrivals)
    p95 = _nearest_rank(delays, 0.95)
    return (f"alerts delivered to the desk (apprise json://): {len(delays)}, {statistics.median(delays):.1f} s "
            f"after the publish (median), {p95:.1f} s (95th), {delays[-1]:.1f} s (last)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--every", default="2m", help="poll interval of every source (default 2m)")
    parser.add_argument("--seconds", type=float, default=300, help="how long the daemon runs (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--timeline", action="store_true", help="print the daemon's RSS every 10 s")
    args = parser.parse_args()

    nginx = ensure_nginx()
    work = Path(tempfile.mkdtemp(prefix="press-bench-daemon-"))
    work.chmod(0o755)
    hosts = loopback_hosts(min(HOSTS, args.sources))
    port = free_port(hosts)
    server = daemon = None
    desk: Desk | None = None
    try:
        # Dated just before the run: a site quiet for weeks would be 10,000 health alerts.
        site = Site.generate(work / "site", count=args.sources, hosts=hosts, port=port,
                             base_time=datetime.now(UTC) - timedelta(minutes=30))
        server = start_nginx(nginx, work, work / "site", hosts, port)
        desk = Desk()
        config = write_config(work, site, args.every, desk.server_address[1])
        log = work / "daemon.log"
        with log.open("wb") as sink:
            daemon = subprocess.Popen([*MONITOR, "--log-format", "text", "run", "-c", str(config)],
                                      stdout=sink, stderr=subprocess.STDOUT, cwd=work)
        started = time.monotonic()
        peak_rss = peak_workers = before_publish = 0
        # The steady state: from one interval after start (every source's first poll, a
        # baseline, is in) to the publish, every poll an unchanged one (304) at its own time.
        steady_from = _seconds(args.every) + 15
        steady: list[tuple[float, int]] = []  # (CPU seconds, polls logged) at its start and end
        published = False
        fresh: list[Item] = []
        published_at, publish_took = datetime.now(UTC), 0.0
        while time.monotonic() - started < args.seconds and daemon.poll() is None:
            time.sleep(1)
            rss = status_kb(daemon.pid, "VmRSS")
            peak_rss = max(peak_rss, rss)
            second = int(time.monotonic() - started)
            if args.timeline and second % 10 == 0:
                print(f"  t={second:4d}s RSS {rss / 1024:.0f} MB, peak so far {peak_rss / 1024:.0f} MB", flush=True)
            if published:  # before it, the daemon's only child may be the one that reads the config
                peak_workers = max(peak_workers, sum(pss_kb(p) for p in descendants(daemon.pid)))
            if not steady and second >= steady_from and not published:
                steady.append((_cpu_seconds([daemon.pid, *descendants(daemon.pid)]), _polls(log)))
            if not published and time.monotonic() - started > args.seconds / 2:
                if steady:
                    steady.append((_cpu_seconds([daemon.pid, *descendants(daemon.pid)]), _polls(log)))
                before_publish = peak_rss  # what the sources cost before any article page is read
                published_at = datetime.now(UTC)
                fresh = site.publish(0.1)  # new items on 10% of sources: the page workers read articles
                publish_took = (datetime.now(UTC) - published_at).total_seconds()
                published = True
        cpu = _cpu_seconds([daemon.pid, *descendants(daemon.pid)])
        hwm = status_kb(daemon.pid, "VmHWM")
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
        statuses: dict[str, int] = {}
        for match in POLL.finditer(log.read_text(errors="replace")):
            statuses[match.group(1)] = statuses.get(match.group(1), 0) + 1
        polls = sum(statuses.values())
        print(f"daemon with {args.sources} sources every {args.every}, run {args.seconds:.0f}s, exit {code}")
        print(f"  peak RSS of the daemon process: {max(hwm, peak_rss) / 1024:.1f} MB (VmHWM); "
              f"{before_publish / 1024:.1f} MB before the publish")
        print(f"  page workers (forkserver and workers), peak summed PSS after the publish: "
              f"{peak_workers / 1024:.0f} MB")
        counts = " ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
        print(f"  polls: {polls} ({polls / args.seconds:.0f}/s) {counts}")
        print(f"  CPU: {cpu:.1f}s in all, {cpu * 1000 / max(polls, 1):.2f} ms per poll (start-up included)")
        if len(steady) == 2 and steady[1][1] > steady[0][1]:
            (cpu0, polls0), (cpu1, polls1) = steady
            print(f"  steady state (from {steady_from:.0f} s to the publish): {polls1 - polls0} unchanged polls, "
                  f"{(cpu1 - cpu0) * 1000 / (polls1 - polls0):.2f} ms of CPU each")
        else:
            print(f"  steady state: none measured (a run of --seconds {args.seconds:.0f} ends its first half "
                  f"before {steady_from:.0f} s)")
        if published:
            print("  " + alert_latency(work / "monitor.db", {i.url for i in fresh if i.planted}, published_at,
                                       publish_took, args.every))
            print("  " + delivered(desk.arrivals, published_at.timestamp()))
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
        if desk is not None:
            desk.shutdown()
            desk.server_close()
        clean_up(server, work, keep=args.keep)


if __name__ == "__main__":
    main()
