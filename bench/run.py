"""`make bench`: press-monitor against urlwatch, in the same run, on the same local site.

Generates a synthetic news site (bench/newsite.py), serves it from nginx on loopback
addresses only (127.0.1.x: one "publisher" per address, so per-host connection limits act
as they would on the open web), and runs both tools through three phases:

    cold           first poll of every source (ours: the baseline poll, which parses and
                   stores every item; urlwatch: its first run, which stores a snapshot)
    warm           nothing changed: every conditional GET should get a 304
    after publish  ~10% of sources gained 3 items: keyword in the article body only,
                   keyword in the feed's text too, and a decoy (keyword only in the
                   article page's sidebar and footer). We fetch and extract each new
                   article; urlwatch sees the feed only.

Ours runs as a long-lived process (it is a daemon); its start-up is shown apart. urlwatch
runs as it is meant to, one process per check (cron). CPU includes child processes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from newsite import KEYWORDS, Site  # noqa: E402  (bench/newsite.py)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
URLWATCH_VENV = BENCH / ".venv"
HOSTS = 50


# -- infrastructure ----------------------------------------------------------------------


def ensure_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    print("bench: nginx not found; installing it with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=True, env=env)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def ensure_urlwatch() -> Path | None:
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    if exe.exists():
        return exe
    print("bench: installing urlwatch into bench/.venv", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(URLWATCH_VENV)], check=True)
        subprocess.run([str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", "urlwatch"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"bench: urlwatch could not be installed ({exc}); running our side only", flush=True)
        return None
    return exe if exe.exists() else None


def loopback_hosts(count: int) -> list[str]:
    return [f"127.0.1.{k}" for k in range(1, count + 1)]


def free_port(hosts: list[str]) -> int:
    rng = random.Random()
    for _ in range(50):
        port = rng.randint(30000, 60000)
        try:
            for host in hosts:
                with socket.socket() as probe:
                    probe.bind((host, port))
        except OSError:
            continue
        return port
    raise SystemExit("bench: found no free port on the loopback addresses")


def start_nginx(nginx: str, work: Path, docroot: Path, hosts: list[str], port: int) -> subprocess.Popen[bytes]:
    listens = "\n".join(f"    listen {host}:{port};" for host in hosts)
    user = "user root;" if os.geteuid() == 0 else ""
    conf = work / "nginx.conf"
    conf.write_text(f"""{user}
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  types {{ application/rss+xml xml; application/feed+json json; text/html html; }}
  default_type application/octet-stream;
  log_format bench '$status $bytes_sent "$http_user_agent"';
  access_log {work}/access.log bench;
  client_body_temp_path {work}/tmp-body; proxy_temp_path {work}/tmp-proxy;
  fastcgi_temp_path {work}/tmp-fcgi; uwsgi_temp_path {work}/tmp-uwsgi; scgi_temp_path {work}/tmp-scgi;
  sendfile on; keepalive_timeout 30; keepalive_requests 10000;
  etag on; if_modified_since before;
  gzip on; gzip_min_length 512; gzip_comp_level 5;
  gzip_types application/rss+xml application/feed+json text/html;
  server {{
{listens}
    root {docroot};
  }}
}}
""")
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: nginx exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection((hosts[0], port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("bench: nginx did not start listening within 10s")


class AccessLog:
    """Counts nginx's access-log lines written since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def take(self) -> dict[str, float]:
        time.sleep(0.05)  # nginx writes the line after the response
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
            self.offset += len(data)
        requests = not_modified = sent = 0
        for line in data.decode("utf-8", "replace").splitlines():
            status, size, _ = line.split(" ", 2)
            requests += 1
            sent += int(size)
            not_modified += status == "304"
        return {"requests": requests, "bytes": sent, "share304": not_modified / requests if requests else 0.0}


# -- the two sides -----------------------------------------------------------------------


@dataclass(kw_only=True)
class Figures:
    wall: float
    cpu: float
    peak_mb: float
    requests: int = 0
    bytes: int = 0
    share304: float = 0.0
    alerts: int = 0
    caught: int = 0
    false_alerts: int = 0
    workers_mb: float = 0.0  # ours: summed peak RSS of the page-reading worker processes
    own_cpu: float = 0.0  # ours: the CPU seconds of the daemon's own process
    workers_cpu: float = 0.0  # ours: those of its page workers (0 with --executor thread: counted as own)
    alert_median: float = 0.0  # seconds from the phase's start until half the alerts were ready
    alert_last: float = 0.0  # ... and the last one
    note: str = ""


class Project:
    """Our pipeline in one long-lived process (bench/project_side.py)."""

    def __init__(self, work: Path, site: Site, executor: str) -> None:
        self.config = work / "monitor.yaml"
        lines = [f"database: {work}/monitor.db", "defaults:", "  every: 10m", "  timeout: 30s",
                 "channels:", "  desk: \"json://127.0.0.1:9/\"", "watchlists:",
                 "  - name: bench", f"    keywords: {json.dumps(list(KEYWORDS))}", "    notify: [desk]",
                 "sources:"]
        for s in site.sources:
            lines.append(f"  - {{id: {s.id}, url: \"{s.url}\"}}" if s.kind != "html" else
                         f"  - {{id: {s.id}, url: \"{s.url}\", kind: html, select: {{item: li.release, "
                         f"link: a, title: a, date: .date}}}}")
        self.config.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([str(PROJECT_PYTHON), str(BENCH / "project_side.py"), str(self.config),
                                      executor], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=ROOT)
        self.startup = json.loads(self._read())

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"bench: our side exited with {self.proc.wait()}")
        return line

    def poll_all(self, planted: set[str]) -> Figures:
        assert self.proc.stdin is not None
        self.proc.stdin.write("poll\n")
        self.proc.stdin.flush()
        data = json.loads(self._read())
        matched = set(data["matched_urls"])
        note = " ".join(f"{k}={v}" for k, v in sorted(data["statuses"].items()))
        if data["errors"]:
            note += " errors: " + "; ".join(data["errors"])
        ready = data["alert_seconds"]
        return Figures(wall=data["wall"], cpu=data["cpu"], peak_mb=data["peak_mb"], workers_mb=data["workers_mb"],
                       alert_median=statistics.median(ready) if ready else 0.0, alert_last=max(ready, default=0.0),
                       own_cpu=data["own_cpu"], workers_cpu=max(data["cpu"] - data["own_cpu"], 0.0),
                       alerts=len(data["matched_urls"]),
                       caught=len(matched & planted), false_alerts=len(matched - planted), note=note)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


class Urlwatch:
    """urlwatch 2.x with one grep-filtered job per feed, its own config and cache."""

    def __init__(self, exe: Path, work: Path, site: Site) -> None:
        self.exe = exe
        self.work = work / "urlwatch"
        self.work.mkdir()
        pattern = "(?i)(" + "|".join(re.escape(k).replace("\\ ", "[ -]+") for k in KEYWORDS) + ")"
        jobs = [f"url: \"{s.url}\"\nfilter:\n  - grep: '{pattern}'\n" for s in site.sources]
        (self.work / "urls.yaml").write_text("---\n".join(jobs))
        (self.work / "urlwatch.yaml").write_text(
            "display: {new: true, error: true, unchanged: false, empty-diff: false}\n"
            "report:\n  text: {details: true, footer: false, minimal: false, line_length: 75}\n"
            "  stdout: {enabled: true, color: false}\n")
        (self.work / "hooks.py").write_text("")
        self.runs = 0

    def poll_all(self, planted_titles: dict[str, str]) -> Figures:
        self.runs += 1
        out = self.work / f"report-{self.runs}.txt"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.work), "LANG": "C.UTF-8"}
        cmd = [str(self.exe), "--urls", str(self.work / "urls.yaml"), "--config", str(self.work / "urlwatch.yaml"),
               "--hooks", str(self.work / "hooks.py"), "--cache", str(self.work / "cache.db")]
        with out.open("w") as sink:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=self.work)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        added, reported = _urlwatch_report(out.read_text(errors="replace"))
        caught = {url for url, title in planted_titles.items() if title in added}
        note = f"reported={reported}" + (f" exit={proc.returncode}" if proc.returncode else "")
        return Figures(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_mb=usage.ru_maxrss / 1024,
                       alerts=reported, caught=len(caught), note=note)


def clean_up(server: subprocess.Popen[bytes] | None, work: Path, *, keep: bool) -> None:
    """Stop nginx, and remove the bench's folder unless asked to keep it."""
    if server is not None:
        server.terminate()
        server.wait(timeout=10)
    if keep:
        print(f"bench: kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def _urlwatch_report(text: str) -> tuple[str, int]:
    """The lines urlwatch's report shows as added, and how many jobs it reported."""
    added, reported = [], 0
    for line in text.splitlines():
        if line.startswith(("CHANGED: ", "NEW: ")):  # a job's details heading
            reported += 1
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line)
    return "\n".join(added), reported


# -- the run -----------------------------------------------------------------------------

PHASES = ("cold", "warm", "after publish")


def one_run(args: argparse.Namespace, nginx: str, urlwatch: Path | None, run: int) -> dict[str, dict[str, Figures]]:
    work = Path(tempfile.mkdtemp(prefix="press-bench-"))
    work.chmod(0o755)
    docroot = work / "site"
    hosts = loopback_hosts(min(HOSTS, args.sources))
    port = free_port(hosts)
    proc = None
    project = None
    try:
        site = Site.generate(docroot, count=args.sources, hosts=hosts, port=port)
        proc = start_nginx(nginx, work, docroot, hosts, port)
        log = AccessLog(work / "access.log")
        project = Project(work, site, args.executor)
        uw = Urlwatch(urlwatch, work, site) if urlwatch else None
        out: dict[str, dict[str, Figures]] = {p: {} for p in PHASES}
        out["startup"] = {"ours": Figures(wall=project.startup["startup"], cpu=project.startup["cpu"],
                                          peak_mb=project.startup["peak_mb"],
                                          workers_mb=project.startup["workers_mb"])}
        for phase in PHASES:
            planted: set[str] = set()
            titles: dict[str, str] = {}
            if phase == "after publish":
                fresh = site.publish(args.publish_share)
                planted = {i.url for i in fresh if i.planted}
                titles = {i.url: i.title for i in fresh if i.planted}
            log.take()
            repeats = args.warm_repeats if phase == "warm" else 1
            ours = [project.poll_all(planted) for _ in range(repeats)]
            fig = _median(ours)
            fig.__dict__.update(log.take())
            fig.requests //= repeats
            fig.bytes //= repeats
            fig.planted = len(planted)  # type: ignore[attr-defined]
            out[phase]["ours"] = fig
            if uw:
                theirs = [uw.poll_all(titles) for _ in range(repeats)]
                fig = _median(theirs)
                fig.__dict__.update(log.take())
                fig.requests //= repeats
                fig.bytes //= repeats
                fig.planted = len(planted)  # type: ignore[attr-defined]
                out[phase]["urlwatch"] = fig
            print(f"bench: run {run} {phase}: ours {out[phase]['ours'].wall:.2f}s"
                  + (f", urlwatch {out[phase]['urlwatch'].wall:.2f}s" if uw else ""), flush=True)
        return out
    finally:
        if project is not None:
            project.close()
        clean_up(proc, work, keep=args.keep)


def _median(runs: list[Figures]) -> Figures:
    if len(runs) == 1:
        return runs[0]
    ordered = sorted(runs, key=lambda f: f.wall)
    middle = ordered[len(ordered) // 2]
    middle.cpu = statistics.median(f.cpu for f in runs)
    middle.peak_mb = max(f.peak_mb for f in runs)
    return middle


def combine(runs: list[dict[str, dict[str, Figures]]]) -> dict[str, dict[str, Figures]]:
    """Median of each figure over runs."""
    if len(runs) == 1:
        return runs[0]
    out: dict[str, dict[str, Figures]] = {}
    for phase, sides in runs[0].items():
        out[phase] = {}
        for side, first in sides.items():
            figs = [r[phase][side] for r in runs]
            merged = Figures(**{k: statistics.median(getattr(f, k) for f in figs)
                                for k in ("wall", "cpu", "peak_mb", "requests", "bytes", "share304", "alerts",
                                          "caught", "false_alerts", "workers_mb", "own_cpu", "workers_cpu",
                                          "alert_median", "alert_last")},
                             note=first.note)
            merged.planted = getattr(first, "planted", 0)  # type: ignore[attr-defined]
            out[phase][side] = merged
    return out


def table(results: dict[str, dict[str, Figures]], sources: int, runs: int) -> str:
    head = (f"{'phase':<14}{'tool':<10}{'wall s':>8}{'cpu s':>8}{'src/s':>8}{'cpu ms/poll':>12}{'peak MB':>9}"
            f"{'requests':>9}{'MB sent':>9}{'304':>6}{'alerts':>7}{'recall':>8}{'false':>6}")
    lines = [f"press-monitor vs urlwatch: {sources} feed sources, median of {runs} run(s)", head, "-" * len(head)]
    for phase in PHASES:
        for side, fig in results[phase].items():
            planted = getattr(fig, "planted", 0)
            recall = f"{fig.caught / planted:.2f}" if planted else "-"
            lines.append(
                f"{phase:<14}{side:<10}{fig.wall:>8.2f}{fig.cpu:>8.2f}{sources / fig.wall:>8.0f}"
                f"{fig.cpu * 1000 / sources:>12.2f}{fig.peak_mb:>9.0f}{fig.requests:>9.0f}{fig.bytes / 1e6:>9.2f}"
                f"{fig.share304:>6.0%}{fig.alerts:>7.0f}{recall:>8}{(fig.false_alerts if side == 'ours' else 0):>6.0f}")
        if "urlwatch" in results[phase]:
            ours, theirs = results[phase]["ours"], results[phase]["urlwatch"]
            wall = f"wall: ours is {theirs.wall / ours.wall:.1f}x faster"
            lines.append(f"{'':<14}{'ratio':<10}{wall:<28}cpu: {theirs.cpu / max(ours.cpu, 1e-9):.1f}x less   "
                         f"peak RSS: {ours.peak_mb / theirs.peak_mb:.2f}x")
    ours = results["after publish"]["ours"]
    if ours.alerts:
        line = (f"alerts ready after publish, median / last, seconds from the phase's start: ours "
                f"{ours.alert_median:.2f} / {ours.alert_last:.2f} (each source's at its poll's commit)")
        if "urlwatch" in results["after publish"]:
            theirs = results["after publish"]["urlwatch"]
            line += (f", urlwatch {theirs.wall:.2f} / {theirs.wall:.2f} (one report, at the end of its run,"
                     " its process start-up included)")
        lines.append(line)
    start = results["startup"]["ours"]
    lines.append(f"ours, process start-up once (imports, config, migrations): {start.wall:.2f}s wall, "
                 f"{start.cpu:.2f}s cpu, {start.peak_mb:.0f} MB")
    workers = max(results[phase]["ours"].workers_mb for phase in PHASES)
    if workers:
        lines.append(f"ours, page-reading worker processes (forkserver and workers, CPU counted above): "
                     f"{workers:.0f} MB peak RSS summed, shared pages counted in each")
    ours_by_phase = [(phase, results[phase]["ours"]) for phase in PHASES]
    split = ", ".join(f"{phase} {fig.own_cpu:.2f} / {fig.workers_cpu:.2f} s" for phase, fig in ours_by_phase)
    lines.append(f"ours, CPU of the daemon's own process / of its page workers: {split}")
    for phase in PHASES:
        for side, fig in results[phase].items():
            if fig.note:
                lines.append(f"  {phase} {side}: {fig.note}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000, help="number of feed sources (default 1000)")
    parser.add_argument("--runs", type=int, default=1, help="whole runs to take medians over (default 1)")
    parser.add_argument("--warm-repeats", type=int, default=3, help="warm polls per run, median taken (default 3)")
    parser.add_argument("--publish-share", type=float, default=0.1, help="share of sources that publish (0.1)")
    parser.add_argument("--executor", choices=("thread", "process"), default="process",
                        help="where our side reads article pages: in worker processes as the daemon does "
                             "(default), or in threads")
    parser.add_argument("--no-urlwatch", action="store_true", help="run our side only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    # SIGTERM (make's, a CI timeout's) unwinds through the finally blocks that stop nginx.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    nginx = ensure_nginx()
    urlwatch = None if args.no_urlwatch else ensure_urlwatch()
    if urlwatch is None and not args.no_urlwatch:
        print("bench: urlwatch unavailable: our side only", flush=True)
    runs = [one_run(args, nginx, urlwatch, k + 1) for k in range(args.runs)]
    print()
    print(table(combine(runs), args.sources, args.runs))


if __name__ == "__main__":
    main()
