"""Config loading: defaults, paths, ${ENV}, and one exact FILE:LINE message per mistake."""

from __future__ import annotations

import io
import re
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

from monitor.config import (
    ConfigError,
    Selectors,
    default_config_path,
    format_duration,
    load_config,
    parse_duration,
    report,
    summarize,
)

REPO = Path(__file__).resolve().parent.parent

GOOD = """\
database: ../data/monitor.db
timezone: Asia/Karachi
defaults:
  every: 10m
  jitter: 20s
channels:
  desk-chat: "${DESK_CHAT_URL}"
  console: console://
  both: [console://, "json://${HOOK_HOST}/hook"]
sources:
  - id: ispr
    name: ISPR press releases
    url: https://www.ispr.gov.pk/press-release
    kind: html
    every: 5m
    select:
      item: .press-release
      title: h3
  - id: dawn
    url: https://www.dawn.com/feeds/home
  - id: nightly
    url: https://example.org/sitemap.xml
    cron: "0 2 * * *"
    backfill: true
watchlists:
  - watchlists/*.yaml
  - name: inline
    keywords: ISAF
    notify: console
"""

WATCHLIST = """\
name: afpak-military
keywords: [Kayani, "Joseph Dunford", "/Gen\\\\.? Kayani/"]
exclude: [cricket]
sources: [ispr, dawn]
notify: [desk-chat, console]
"""

ENV = {"DESK_CHAT_URL": "slack://T000/B000/XXXX", "HOOK_HOST": "hooks.example.org"}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def problems(root: Path, files: dict[str, str], env: dict[str, str] | None = None) -> list[str]:
    """Write ``files`` under ``root`` (the cwd) and return the problems of config/monitor.yaml."""
    write(root, files)
    with pytest.raises(ConfigError) as caught:
        load_config(Path("config/monitor.yaml"), environ=ENV if env is None else env)
    return [str(p) for p in caught.value.problems]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


class TestValidConfig:
    def load(self, tmp_path: Path):
        write(tmp_path, {"config/monitor.yaml": GOOD, "config/watchlists/afpak.yaml": WATCHLIST})
        return load_config(Path("config/monitor.yaml"), environ=ENV)

    def test_paths_are_absolute_and_relative_to_the_config_file(self, tmp_path: Path) -> None:
        """The config path is made absolute and the database resolved beside it."""
        config = self.load(tmp_path)
        assert config.path == tmp_path / "config" / "monitor.yaml"
        assert config.database == tmp_path / "data" / "monitor.db"
        assert config.watch_files() == (config.path, tmp_path / "config" / "watchlists" / "afpak.yaml")
        assert [pattern for pattern, _ in config.stamps.globs] == [str(tmp_path / "config" / "watchlists/*.yaml")]

    def test_defaults_are_applied_to_each_source(self, tmp_path: Path) -> None:
        """A source inherits what it does not set; its own every or cron wins."""
        ispr, dawn, nightly = self.load(tmp_path).sources
        assert (ispr.name, ispr.kind, ispr.every, ispr.cron) == (
            "ISPR press releases", "html", timedelta(minutes=5), None)
        assert ispr.select == Selectors(item=".press-release", link="a", title="h3")
        assert (dawn.name, dawn.kind, dawn.every, dawn.cron, dawn.select) == (
            "dawn", None, timedelta(minutes=10), None, None)
        assert (dawn.jitter, dawn.timeout, dawn.fetch_articles, dawn.backfill) == (
            timedelta(seconds=20), timedelta(seconds=20), True, False)
        assert (nightly.every, nightly.cron, nightly.backfill) == (None, "0 2 * * *", True)

    def test_top_level_values_and_defaults(self, tmp_path: Path) -> None:
        """Timezone is kept, give_up defaults to 3 days."""
        config = self.load(tmp_path)
        assert config.timezone == "Asia/Karachi"
        assert config.give_up == config.defaults.give_up == timedelta(days=3)

    def test_environment_variables_are_substituted(self, tmp_path: Path) -> None:
        """${NAME} becomes the variable's value; one URL or a list both become tuples."""
        channels = self.load(tmp_path).channels
        assert channels == {
            "desk-chat": ("slack://T000/B000/XXXX",),
            "console": ("console://",),
            "both": ("console://", "json://hooks.example.org/hook"),
        }

    def test_watch_lists_from_files_and_inline(self, tmp_path: Path) -> None:
        """A file's watch list keeps its file name and line; an inline one the config's."""
        afpak, inline = self.load(tmp_path).watchlists
        assert afpak.name == "afpak-military"
        assert afpak.keywords == ("Kayani", "Joseph Dunford", "/Gen\\.? Kayani/")
        assert (afpak.require, afpak.exclude, afpak.sources) == ((), ("cricket",), ("ispr", "dawn"))
        assert afpak.notify == ("desk-chat", "console")
        assert (afpak.file, afpak.line) == ("config/watchlists/afpak.yaml", 1)
        assert (inline.name, inline.keywords, inline.notify, inline.sources) == (
            "inline", ("ISAF",), ("console",), None)
        assert (inline.file, inline.line) == ("config/monitor.yaml", 27)

    def test_minimal_config_gets_every_default(self, tmp_path: Path) -> None:
        """An empty mapping is a valid config: UTC, data/monitor.db, every 10m, no jitter."""
        write(tmp_path, {"c.yaml": "sources:\n  - id: a\n    url: http://a.example\n"})
        config = load_config(Path("c.yaml"), environ={})
        assert config.database == tmp_path / "data" / "monitor.db"
        assert config.timezone == "UTC"
        source = config.sources[0]
        assert (source.every, source.cron, source.jitter, source.timeout) == (
            timedelta(minutes=10), None, timedelta(0), timedelta(seconds=20))

    def test_default_cron_is_overridden_by_a_source_every(self, tmp_path: Path) -> None:
        """A default cron applies to sources without a schedule, not to one with every."""
        write(tmp_path, {"c.yaml": """\
            defaults: {cron: "*/5 7-22 * * *"}
            sources:
              - {id: a, url: "http://a.example"}
              - {id: b, url: "http://b.example", every: 1h30m}
            """})
        a, b = load_config(Path("c.yaml"), environ={}).sources
        assert (a.every, a.cron) == (None, "*/5 7-22 * * *")
        assert (b.every, b.cron) == (timedelta(hours=1, minutes=30), None)

    def test_cron_weekdays_keep_their_crontab_meaning(self, tmp_path: Path) -> None:
        """Weekday numbers mean what crontab says (0 = Sunday), not APScheduler 3's 0 = Monday."""
        write(tmp_path, {"c.yaml": 'defaults: {cron: "0 9  * * 1-5"}\n'})
        cron = load_config(Path("c.yaml"), environ={}).defaults.cron
        assert cron == "0 9 * * mon,tue,wed,thu,fri"
        trigger = CronTrigger.from_crontab(cron, timezone=timezone.utc)
        saturday = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)
        assert trigger.get_next_fire_time(None, saturday) == datetime(2026, 11, 30, 9, tzinfo=timezone.utc)

    def test_a_day_and_a_weekday_fire_on_either_as_in_cron(self, tmp_path: Path) -> None:
        """``0 9 1 * 1``: the 1st of every month and every Monday (cron's rule), not only the
        Mondays that fall on a 1st (APScheduler's own reading: once in eight months here)."""
        from monitor.config.schema import crontab_trigger

        write(tmp_path, {"c.yaml": 'defaults: {cron: "0 9 1 * 1"}\n'})
        trigger = crontab_trigger(load_config(Path("c.yaml"), environ={}).defaults.cron, timezone.utc)
        fired, moment = [], datetime(2026, 6, 20, tzinfo=timezone.utc)
        for _ in range(4):
            moment = trigger.get_next_fire_time(None, moment)
            fired.append(moment.date().isoformat())
            moment += timedelta(seconds=1)
        assert fired == ["2026-06-22", "2026-06-29", "2026-07-01", "2026-07-06"]
        only_days = crontab_trigger("0 9 1 * *", timezone.utc)  # one field given: that field alone
        assert only_days.get_next_fire_time(None, datetime(2026, 6, 2, tzinfo=timezone.utc)).day == 1
        stepped = crontab_trigger("0 9 */2 * mon", timezone.utc)  # a day starting with *: both must match
        assert stepped.get_next_fire_time(None, datetime(2026, 6, 2, tzinfo=timezone.utc)).date().isoformat() == (
            "2026-06-15")

    @pytest.mark.parametrize("cron", ["0 0 30 2 *", "0 9 30 2 1-5"])
    def test_a_cron_time_that_never_comes_is_a_config_error(self, tmp_path: Path, cron: str) -> None:
        """February 30th passed validation and the source was never polled; beside a
        weekday, it cost every next-time question a search to the year 9999."""
        write(tmp_path, {"c.yaml": f'sources: [{{id: a, url: "https://a.example/", cron: "{cron}"}}]\n'})
        with pytest.raises(ConfigError, match=r"c.yaml:1: sources\[0\].cron: .* never comes"):
            load_config(Path("c.yaml"), environ={})

    def test_escaped_dollar_is_literal(self, tmp_path: Path) -> None:
        """$${NAME} is the literal text ${NAME}, and needs no variable."""
        write(tmp_path, {"c.yaml": 'channels: {x: "json://h/$${TOKEN}"}\n'})
        assert load_config(Path("c.yaml"), environ={}).channels == {"x": ("json://h/${TOKEN}",)}

    def test_numbers_and_dates_stay_as_written(self, tmp_path: Path) -> None:
        """YAML numbers and dates are kept as the text written: ``keywords: [1965]`` is a word."""
        write(tmp_path, {"c.yaml": """\
            channels: {c: "console://"}
            sources: [{id: 2024, url: "http://a.example", name: 2024-01-01}]
            watchlists: [{name: w, keywords: [1965, 0x1F, 1e3], notify: c}]
            """})
        config = load_config(Path("c.yaml"), environ={})
        assert (config.sources[0].id, config.sources[0].name) == ("2024", "2024-01-01")
        assert config.watchlists[0].keywords == ("1965", "0x1F", "1e3")

    def test_yaml_anchors_and_merge_keys(self, tmp_path: Path) -> None:
        """Sources can share settings through a YAML anchor and ``<<:``."""
        write(tmp_path, {"c.yaml": """\
            sources:
              - &wp {id: a, url: "http://a.example", kind: html, select: {item: article}}
              - {<<: *wp, id: b, url: "http://b.example"}
            """})
        a, b = load_config(Path("c.yaml"), environ={}).sources
        assert (b.id, b.kind, b.select) == ("b", "html", a.select)

    def test_summary_names_channels_but_never_their_urls(self, tmp_path: Path) -> None:
        """The validate summary lists sources, channel names and watch lists, without URLs."""
        text = summarize(self.load(tmp_path))
        assert "ispr" in text and "every 5m (jitter 20s)" in text and "cron 0 2 * * *" in text
        assert "channels (3): desk-chat, console, both" in text
        assert "afpak-military  config/watchlists/afpak.yaml:1  4 terms  -> desk-chat, console" in text
        assert "slack://" not in text and "console://" not in text and "hooks.example.org" not in text


# Each case: files (config/monitor.yaml plus any others) -> the one exact problem.
SOURCE = "sources:\n  - id: ispr\n    url: https://ispr.example\n"
CASES = {
    "yaml syntax": (
        {"config/monitor.yaml": "sources:\n  - id: [ispr\n    url: x\n"},
        "config/monitor.yaml:2: not valid YAML: a [list] that starts on this line is not closed "
        "(expected ',' or ']', but got ':' on line 3)",
    ),
    "unclosed quote: the line that opens it": (
        {"config/monitor.yaml": "timezone: UTC\nsources:\n  - id: \"ispr\n    url: x\n\n"},
        "config/monitor.yaml:3: not valid YAML: a quoted text that starts on this line is not closed "
        "(found unexpected end of stream on line 6)",
    ),
    "not a mapping": (
        {"config/monitor.yaml": "- just\n- a list\n"},
        "config/monitor.yaml:1: got a list (expected a mapping with sources, channels and watchlists)",
    ),
    "bad duration": (
        {"config/monitor.yaml": SOURCE + "    every: 10 minutes\n"},
        "config/monitor.yaml:4: sources[0].every: '10 minutes' is not a duration (use 30s, 10m, 2h)",
    ),
    "zero timeout": (
        {"config/monitor.yaml": "defaults:\n  timeout: 0s\n"},
        "config/monitor.yaml:2: defaults.timeout: '0s' is zero (expected a duration longer than 0s)",
    ),
    "every and cron": (
        {"config/monitor.yaml": SOURCE + "    every: 5m\n    cron: '* * * * *'\n"},
        "config/monitor.yaml:5: sources[0].cron: cannot be combined with every (expected either every or cron)",
    ),
    "bad cron": (
        {"config/monitor.yaml": "defaults:\n  cron: '61 * * * *'\n"},
        "config/monitor.yaml:2: defaults.cron: '61 * * * *' is not a cron expression: Error validating "
        "expression '61': the last value (61) is higher than the maximum value (59) "
        "(expected 5 fields: minute hour day month weekday, like */5 7-22 * * *)",
    ),
    "unknown field": (
        {"config/monitor.yaml": SOURCE + "    kind: html\n    select:\n      item: li\n      selct: a\n"},
        "config/monitor.yaml:7: sources[0].select.selct: unknown field "
        "(expected one of: item, link, title, date, content)",
    ),
    "bad css selector": (
        {"config/monitor.yaml": SOURCE + "    kind: html\n    select:\n      item: li\n      title: 'h3[['\n"},
        "config/monitor.yaml:7: sources[0].select.title: 'h3[[' is not a CSS selector (expected a selector "
        "like li.press-release or div#main > article)",
    ),
    "unknown kind": (
        {"config/monitor.yaml": SOURCE + "    kind: rss\n"},
        "config/monitor.yaml:4: sources[0].kind: 'rss' is not a source kind (expected one of: "
        + ", ".join(__import__("monitor.sources.registry", fromlist=["KINDS"]).KINDS) + ")",
    ),
    "missing url": (
        {"config/monitor.yaml": "sources:\n  - id: ispr\n    name: ISPR\n"},
        "config/monitor.yaml:2: sources[0].url: missing (this field is required)",
    ),
    "not a web url": (
        {"config/monitor.yaml": "sources:\n  - id: ispr\n    url: ftp://ispr.example\n"},
        "config/monitor.yaml:3: sources[0].url: 'ftp://ispr.example' is not a web address "
        "(expected http:// or https:// and a host name)",
    ),
    "bad source id": (
        {"config/monitor.yaml": "sources:\n  - id: ISPR News\n    url: https://ispr.example\n"},
        "config/monitor.yaml:2: sources[0].id: 'ISPR News' is not a source id "
        "(expected lower-case letters, digits, - and _, like ispr)",
    ),
    "duplicate source id": (
        {"config/monitor.yaml": SOURCE + "  - id: ispr\n    url: https://other.example\n"},
        "config/monitor.yaml:4: sources[1].id: duplicate source id 'ispr' "
        "(expected each id once; sources[0] on line 2 has it too)",
    ),
    "bad timezone": (
        {"config/monitor.yaml": "timezone: Asia/Karachy\n"},
        "config/monitor.yaml:1: timezone: 'Asia/Karachy' is not a time zone "
        "(expected an IANA name like Asia/Karachi or UTC)",
    ),
    "unset variable": (
        {"config/monitor.yaml": "channels:\n  desk-chat: ${SLACK_URL}\n"},
        "config/monitor.yaml:2: channels.desk-chat: ${SLACK_URL} is not set "
        "(expected an environment variable SLACK_URL)",
    ),
    "bad boolean": (
        {"config/monitor.yaml": SOURCE + "    fetch_articles: maybe\n"},
        "config/monitor.yaml:4: sources[0].fetch_articles: 'maybe' is not true or false (expected true or false)",
    ),
    "wrong shape": (
        {"config/monitor.yaml": "channels:\n  - console://\n"},
        "config/monitor.yaml:1: channels: got a list (expected a mapping of name: value)",
    ),
    "glob matches nothing": (
        {"config/monitor.yaml": "watchlists:\n  - lists/*.yml\n"},
        "config/monitor.yaml:2: watchlists[0]: 'lists/*.yml' matches no file "
        "(expected a glob of watch-list files, relative to config)",
    ),
    "watch list names an unknown channel": (
        {
            "config/monitor.yaml": "channels: {console: 'console://'}\nwatchlists: [w/*.yaml]\n",
            "config/w/a.yaml": "name: a\nkeywords: [x]\nnotify: [console, desk]\n",
        },
        "config/w/a.yaml:3: notify[1]: 'desk' is not a channel (expected one of: console)",
    ),
    "watch list names an unknown source": (
        {
            "config/monitor.yaml": SOURCE + "channels: {c: 'console://'}\nwatchlists: [w/*.yaml]\n",
            "config/w/a.yaml": "name: a\nkeywords: [x]\nsources: dawn\nnotify: c\n",
        },
        "config/w/a.yaml:3: sources: 'dawn' is not a source id (expected one of: ispr)",
    ),
    "bad regex term": (
        {
            "config/monitor.yaml": "channels: {c: 'console://'}\nwatchlists: [w/*.yaml]\n",
            "config/w/a.yaml": "keywords:\n  - ok\n  - /Kayani(/\nnotify: c\n",
        },
        "config/w/a.yaml:3: keywords[1]: '/Kayani(/' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 7",
    ),
    "watch list without terms": (
        {"config/monitor.yaml":
            "channels: {c: 'console://'}\nwatchlists:\n  - name: a\n    exclude: [x]\n    notify: c\n"},
        "config/monitor.yaml:3: watchlists[0].keywords: no terms to match "
        "(expected at least one keyword or require term)",
    ),
    "duplicate watch-list name": (
        {
            "config/monitor.yaml": "channels: {c: 'console://'}\nwatchlists:\n  - w/*.yaml\n"
            "  - name: a\n    keywords: [y]\n    notify: c\n",
            "config/w/a.yaml": "keywords: [x]\nnotify: c\n",
        },
        "config/monitor.yaml:4: watchlists[1].name: duplicate watch-list name 'a' "
        "(expected each name once; config/w/a.yaml:1 has it too)",
    ),
    "duplicate watch-list name, one of them an empty name: (the file's name, then)": (
        {
            "config/monitor.yaml": "channels: {c: 'console://'}\nwatchlists:\n  - w/*.yaml\n",
            "config/w/a.yaml": "name:\nkeywords: [x]\nnotify: c\n",
            "config/w/b.yaml": "name: a\nkeywords: [y]\nnotify: c\n",
        },
        "config/w/b.yaml:1: name: duplicate watch-list name 'a' "
        "(expected each name once; config/w/a.yaml:1 has it too)",
    ),
    "duplicate key": (
        {"config/monitor.yaml": "timezone: UTC\ntimezone: Asia/Karachi\n"},
        "config/monitor.yaml:2: timezone: duplicate key (first on line 1)",
    ),
    "empty channel list": (
        {"config/monitor.yaml": "channels:\n  desk: []\n"},
        "config/monitor.yaml:2: channels.desk: is an empty list (expected at least one notification URL)",
    ),
    "select on a feed": (
        {"config/monitor.yaml": SOURCE + "    kind: feed\n    select: {item: li}\n"},
        "config/monitor.yaml:5: sources[0].select.item: only html sources select listing items "
        "(expected select.content alone for kind feed)",
    ),
    "min_every above max_every": (
        {"config/monitor.yaml": SOURCE + "    min_every: 2h\n    max_every: 30m\n"},
        "config/monitor.yaml:4: sources[0].min_every: min_every 2h is longer than max_every 30m "
        "(expected min_every <= max_every)",
    ),
    "adaptive bounds with cron": (
        {"config/monitor.yaml": SOURCE + "    cron: '*/5 * * * *'\n    min_every: 1m\n    max_every: 1h\n"},
        "config/monitor.yaml:5: sources[0].min_every: cannot be combined with cron "
        "(expected every, or cron without min_every and max_every)",
    ),
    "one adaptive bound alone": (
        {"config/monitor.yaml": "defaults:\n  max_every: 1h\n"},
        "config/monitor.yaml:2: defaults.max_every: is given without min_every "
        "(expected both bounds for adaptive polling)",
    ),
    "text where a list belongs": (
        {"config/monitor.yaml": "sources: ispr\n"},
        "config/monitor.yaml:1: sources: got text (expected a list)",
    ),
}


@pytest.mark.parametrize("files, expected", list(CASES.values()), ids=list(CASES))
def test_malformed_config_reports_one_exact_problem(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    """Each mistake is reported once, as FILE:LINE: field: what is wrong (what was expected)."""
    assert problems(tmp_path, files) == [expected]


def test_every_bad_term_inside_a_group_is_reported_at_its_own_line(tmp_path: Path) -> None:
    """Inside {all: [...]}, each bad term has its own line and field path; only the first was
    reported, at the group's line, with the path written into the message."""
    found = problems(tmp_path, {
        "config/monitor.yaml": "channels: {c: 'console://'}\nwatchlists: [w/*.yaml]\n",
        "config/w/a.yaml": 'keywords:\n  - all:\n      - "/[/"\n      - ok\n      - {none: ["a |"]}\nnotify: c\n',
    })
    assert found == [
        "config/w/a.yaml:3: keywords[0].all[0]: '/[/' is not a valid regular expression: "
        "unterminated character set at position 1",
        "config/w/a.yaml:5: keywords[0].all[2].none[0]: 'a |' ends with an operator "
        "(expected a term after '|' or '~N')",
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Mistakes in different sections and files all appear, in file and line order."""
    found = problems(tmp_path, {
        "config/monitor.yaml": """\
            timezone: Nowhere/City
            defaults:
              every: 10 minutes
            channels: {c: 'console://'}
            sources:
              - id: a
                url: https://a.example
                jitter: soon
            watchlists: [w/*.yaml]
            """,
        "config/w/x.yaml": "keywords: [x]\nnotify: [c, d]\ncolour: red\n",
    })
    assert found == [
        "config/monitor.yaml:1: timezone: 'Nowhere/City' is not a time zone "
        "(expected an IANA name like Asia/Karachi or UTC)",
        "config/monitor.yaml:3: defaults.every: '10 minutes' is not a duration (use 30s, 10m, 2h)",
        "config/monitor.yaml:8: sources[0].jitter: 'soon' is not a duration (use 30s, 10m, 2h)",
        "config/w/x.yaml:2: notify[1]: 'd' is not a channel (expected one of: c)",
        "config/w/x.yaml:3: colour: unknown field "
        "(expected one of: name, keywords, require, exclude, sources, notify, delivery, template)",
    ]


def test_values_from_the_environment_never_appear_in_messages(tmp_path: Path) -> None:
    """An invalid value that came from ${NAME} is named by its variable, never shown."""
    secret = "hunter2-7f3a9c"
    env = {"DESK_CHAT_URL": f"not-a-url {secret}", "POLL": secret, "CRON": f"{secret} * * * *",
           "HOST": secret, "TERM": f"/{secret}(/"}
    found = problems(tmp_path, {"config/monitor.yaml": """\
        channels:
          desk-chat: "${DESK_CHAT_URL}"
        sources:
          - id: a
            url: "ftp://${HOST}/feed"
            every: ${POLL}
          - id: b
            url: https://b.example
            cron: ${CRON}
        watchlists:
          - name: w
            keywords: ["${TERM}"]
            notify: desk-chat
        """}, env)
    assert found == [
        "config/monitor.yaml:2: channels.desk-chat: the value of ${DESK_CHAT_URL} is not a notification URL "
        "(expected an apprise URL like mailtos://... or console://)",
        "config/monitor.yaml:5: sources[0].url: 'ftp://${HOST}/feed' (after substituting ${HOST}) "
        "is not a web address (expected http:// or https:// and a host name)",
        "config/monitor.yaml:6: sources[0].every: the value of ${POLL} is not a duration (use 30s, 10m, 2h)",
        "config/monitor.yaml:9: sources[1].cron: the value of ${CRON} is not a cron expression "
        "(expected 5 fields: minute hour day month weekday, like */5 7-22 * * *)",
        "config/monitor.yaml:12: watchlists[0].keywords[0]: '${TERM}' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 15",
    ]
    assert all(secret not in line for line in found)


def test_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    """A missing config file is reported as a problem of that file, without a line."""
    with pytest.raises(ConfigError) as caught:
        load_config(Path("config/missing.yaml"), environ={})
    assert [str(p) for p in caught.value.problems] == [
        "config/missing.yaml: cannot read the file: No such file or directory "
        "(expected a readable UTF-8 YAML file)"
    ]


def test_report_writes_problems_and_returns_exit_code_2(tmp_path: Path) -> None:
    """The CLI helper prints one problem per line and returns the config-error exit code."""
    stream = io.StringIO()
    error = pytest.raises(ConfigError, load_config, Path("nope.yaml"), environ={}).value
    assert report(error, stream) == 2
    assert stream.getvalue() == f"{error.problems[0]}\n"


def test_default_config_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """$MONITOR_CONFIG wins; otherwise config/monitor.yaml."""
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    assert default_config_path() == Path("config/monitor.yaml")
    monkeypatch.setenv("MONITOR_CONFIG", "/etc/monitor.yaml")
    assert default_config_path() == Path("/etc/monitor.yaml")


@pytest.mark.parametrize("text, value", [
    ("45s", timedelta(seconds=45)), ("10m", timedelta(minutes=10)), ("2h", timedelta(hours=2)),
    ("1d", timedelta(days=1)), ("1h30m", timedelta(hours=1, minutes=30)),
])
def test_durations_round_trip(text: str, value: timedelta) -> None:
    """Each documented duration form parses, and formats back to itself."""
    assert parse_duration(text) == value
    assert format_duration(value) == text


@pytest.mark.parametrize("path", sorted((REPO / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_validate(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every config shipped in config/ loads (variables it uses set to placeholder URLs)."""
    config = load_config(path, environ=_placeholders(path))
    assert config.sources or config.watchlists


def test_every_file_in_config_is_validated() -> None:
    """Each YAML file under config/ is a config or a watch list one of them reads."""
    configs = sorted((REPO / "config").glob("*.yaml"))
    if not configs:
        pytest.skip("no example config written yet")
    read = {f for c in configs for f in load_config(c, environ=_placeholders(c)).watch_files()}
    assert set((REPO / "config").rglob("*.yaml")) <= read


def _placeholders(path: Path) -> dict[str, str]:
    """A placeholder URL for every ${NAME} used by the config at ``path`` and files beside it."""
    names: set[str] = set()
    for file in [path, *path.parent.rglob("*.yaml")]:
        names.update(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", file.read_text(encoding="utf-8")))
    return {name: "json://localhost/placeholder" for name in names}


@pytest.mark.parametrize("value", ["1000000000d", "24000000000h", "99999999999d", "999999999d", "3651d"])
def test_a_duration_past_ten_years_is_a_config_error_not_a_traceback(tmp_path: Path, value: str) -> None:
    """Past 3650d a duration overflowed timedelta (a traceback, exit 1) or, just under that,
    the daemon's date arithmetic (every poll's dispatch failed); now it is a problem with its line."""
    path = tmp_path / "monitor.yaml"
    path.write_text(f"defaults:\n  every: {value}\nsources: [{{id: a, url: 'https://a.example/'}}]\n")
    expected = rf"monitor.yaml:2: defaults.every: '{value}' is too long \(expected at most 3650d\)"
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


@pytest.mark.parametrize("url", ["http://example.org:99999/feed", "http://example.org:0x/feed"])
def test_a_source_url_with_a_port_that_is_no_port_is_a_config_error(tmp_path: Path, url: str) -> None:
    """Read as a port only when a poll came to it, it would have raised there, outside the poll's catch."""
    path = tmp_path / "monitor.yaml"
    path.write_text(f'sources: [{{id: a, url: "{url}"}}]\n')
    with pytest.raises(ConfigError, match=r"monitor.yaml:1: sources\[0\].url: .* has a port that is no port"):
        load_config(path)
