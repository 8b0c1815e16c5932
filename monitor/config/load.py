"""Read the config and its watch lists, check everything, and report every problem at once.

Checks that span parts of the config (defaults inherited by sources, watch lists naming
channels and sources, duplicate ids and names) run on the raw values, so one bad field
does not hide problems elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, RootModel, WithJsonSchema

from monitor.config.aliases import AliasTable
from monitor.config.schema import (
    DEFAULT_DATABASE,
    DEFAULT_TIMEZONE,
    ChannelConfig,
    Config,
    Cron,
    Defaults,
    DeliveryConfig,
    Duration,
    Health,
    HttpConfig,
    Kind,
    MaxPages,
    Names,
    NotifyUrls,
    PositiveDuration,
    Selectors,
    SourceConfig,
    SourceId,
    StoriesConfig,
    Terms,
    Text,
    Timezone,
    WatchListConfig,
    WebUrl,
    format_duration,
)
from monitor.config.stamps import GlobStamp, Stamps, file_stamp, glob_stamp
from monitor.config.translate import check, kind_of, yaml_path
from monitor.config.yamldoc import Document, FieldPath, parse
from monitor.errors import ConfigError, Problem
from monitor.match import term_problem
from monitor.redact import remember
from monitor.watchlang import alias_refs


def default_config_path() -> Path:
    """``$MONITOR_CONFIG`` if it is set and not empty, else ``config/monitor.yaml``."""
    return Path(os.environ.get("MONITOR_CONFIG") or "config/monitor.yaml")


def load_config(path: Path, *, environ: Mapping[str, str] | None = None,
                channel_url_problem: Callable[[str], str | None] | None = None) -> Config:
    """Read and validate the config at ``path`` (and its watch-list files).

    Raises ConfigError listing every problem found, in file and line order. Messages name
    files as the user did (``path`` as given, watch lists relative to its directory).

    ``channel_url_problem``: why a channel URL cannot be sent to, or None; given by the
    commands that deliver (``monitor.notify.plugins.url_problem``), which load apprise
    anyway. The reading commands leave it out, and apprise unloaded.
    """
    return _Loader(Path(path), os.environ if environ is None else environ, channel_url_problem).run()


def load_watchlist(path: Path, config: Config, *, environ: Mapping[str, str] | None = None) -> WatchListConfig:
    """Read and check one watch-list file as ``load_config`` checks those it finds, against
    ``config``'s channels, sources and aliases (for `monitor backtest` of a list not yet
    enabled). Raises ConfigError listing every problem."""
    loader = _Loader(Path(config.path), os.environ if environ is None else environ)
    doc = loader.read(Path(path), str(path))
    watchlist = None
    if doc is not None:
        value = loader.root(doc, "name, keywords and notify")
        if value is not None:
            watchlist = _watchlist(doc, (), value, Path(path).stem, list(config.channels),
                                   [s.id for s in config.sources], dict(config.aliases))
    problems = [p for d in loader.docs for p in sorted(d.problems, key=lambda p: p.line or 0)]
    problems = _scrubbed(problems, {v: n for d in loader.docs for v, n in d.secrets.items()})
    if problems or watchlist is None:
        raise ConfigError(problems)
    return watchlist


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


_ALIASES_SCHEMA = {
    "description": "Shared aliases for @name terms: a file (or a list of files) relative to this one, "
                   "or a mapping of name: [spellings]",
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"},
                                                              {"type": "array", "items": {"type": "string"}}]}},
    ],
}


class _ConfigIn(_In):
    database: Text = DEFAULT_DATABASE
    timezone: Timezone = DEFAULT_TIMEZONE
    defaults: Any = None  # checked on its own, as Defaults
    channels: dict[str, Any] | None = None  # each checked on its own: a URL, a list, or a mapping
    stories: StoriesConfig | None = None
    sources: list[Any] | None = None
    watchlists: list[Any] | None = None
    http: HttpConfig | None = None
    health: Health | None = None
    allow_private: bool = True
    aliases: Annotated[Any, WithJsonSchema(_ALIASES_SCHEMA)] = None  # checked on its own, by AliasTable


class _UrlsIn(RootModel[NotifyUrls]):
    pass


class _SourceIn(_In):
    id: SourceId
    name: Text | None = None
    url: WebUrl
    kind: Kind | None = None
    every: PositiveDuration | None = None
    cron: Cron | None = None
    min_every: PositiveDuration | None = None
    max_every: PositiveDuration | None = None
    jitter: Duration | None = None
    timeout: PositiveDuration | None = None
    fetch_articles: bool | None = None
    backfill: bool | None = None
    max_pages: MaxPages | None = None
    timezone: Timezone | None = None
    select: Selectors | None = None


class _WatchListIn(_In):
    name: Text | None = None
    keywords: Terms = ()
    require: Terms = ()
    exclude: Terms = ()
    sources: Names | None = None
    notify: Names
    delivery: dict[str, DeliveryConfig] | None = None
    template: Text | None = None


class _InlineWatchListIn(_WatchListIn):
    name: Text


class _Loader:
    def __init__(self, path: Path, environ: Mapping[str, str],
                 channel_url_problem: Callable[[str], str | None] | None = None) -> None:
        self.path = path
        self.environ = environ
        self.channel_url_problem = channel_url_problem
        self.absolute = Path(os.path.abspath(path))
        self.directory = self.absolute.parent
        self.shown_directory = os.path.dirname(str(path))
        self.docs: list[Document] = []
        self.watch_files: list[Path] = []
        # What this read took in, as it found it (``monitor.config.stamps``), for a reloader.
        self.file_stamps: dict[Path, int] = {}
        self.glob_stamps: dict[str, GlobStamp] = {}

    def run(self) -> Config:
        doc = self.read(self.path, str(self.path))
        config = None
        if doc is not None:
            raw = self.root(doc, "sources, channels and watchlists")
            if raw is not None:
                config = self.config(doc, raw)
        problems = [p for d in self.docs for p in sorted(d.problems, key=lambda p: p.line or 0)]
        secrets = {v: n for d in self.docs for v, n in d.secrets.items()}
        remember(secrets)
        problems = _scrubbed(problems, secrets)
        if problems or config is None:
            raise ConfigError(problems, stamps=self.stamps())
        return config

    def stamps(self) -> Stamps:
        return Stamps(files=tuple(self.file_stamps.items()), globs=tuple(self.glob_stamps.items()))

    def read(self, path: Path, shown: str) -> Document | None:
        # Stamped before it is read: an edit made meanwhile leaves a newer mtime, read again.
        self.file_stamps[Path(os.path.abspath(path))] = file_stamp(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            doc = Document(file=shown)
            doc.problems.append(
                Problem(
                    file=shown,
                    line=None,
                    field="",
                    message=f"cannot read the file: {reason} (expected a readable UTF-8 YAML file)",
                )
            )
            self.docs.append(doc)
            return None
        doc = parse(text, file=shown, environ=self.environ)
        self.docs.append(doc)
        return None if doc.value is None and doc.problems else doc

    def root(self, doc: Document, expected: str) -> dict[str, Any] | None:
        if isinstance(doc.value, dict):
            return doc.value
        got = "an empty file" if doc.value is None else kind_of(doc.value)
        doc.problems.append(
            Problem(file=doc.file, line=1, field="", message=f"got {got} (expected a mapping with {expected})")
        )
        return None

    def config(self, doc: Document, raw: dict[str, Any]) -> Config | None:
        top = check(_ConfigIn, raw, doc, ())
        channel_configs = self.channels(doc, raw.get("channels"))
        defaults = self.defaults(doc, raw.get("defaults"))
        raw_channels = raw.get("channels")
        channels: dict[str, Any] = raw_channels if isinstance(raw_channels, dict) else {}
        sources = self.sources(doc, raw.get("sources"), defaults)
        listed = raw.get("sources")
        raw_sources: list[Any] = listed if isinstance(listed, list) else []
        ids = [s["id"] for s in raw_sources if isinstance(s, dict) and isinstance(s.get("id"), str)]
        aliases = self.aliases(doc, raw.get("aliases"))
        watchlists = self.watchlists(doc, raw.get("watchlists"), list(channels), list(dict.fromkeys(ids)), aliases)
        health = raw.get("health")
        health_ok = _known(doc, ("health", "channel") if isinstance(health, dict) else ("health",),
                           health.get("channel") if isinstance(health, dict) else health,
                           list(channels or {}), "a channel", "channels")
        if (top is None or defaults is None or None in sources or None in watchlists or not health_ok
                or None in channel_configs.values()):
            return None
        assert isinstance(top, _ConfigIn)
        database = os.path.normpath(self.directory / os.path.expanduser(top.database))
        if os.path.isdir(database):
            doc.problems.append(Problem(file=doc.file, line=doc.line(("database",)), field="database",
                                        message=f"{top.database!r} is a folder (expected a file path, like "
                                                f"{os.path.join(top.database, 'monitor.db')})"))
            return None
        return Config(
            path=self.absolute,
            database=Path(database),
            timezone=top.timezone,
            defaults=defaults,
            channels={name: c.url for name, c in channel_configs.items() if c},
            channel_limits={name: c.max_per_minute for name, c in channel_configs.items()
                            if c and c.max_per_minute is not None},
            story_window=(top.stories or StoriesConfig()).window,
            sources=_sharing_equal_parts(s if s.timezone else s.model_copy(update={"timezone": top.timezone})
                                         for s in sources if s),
            watchlists=tuple(w for w in watchlists if w),
            http=top.http,
            health=top.health,
            allow_private=top.allow_private,
            give_up=defaults.give_up,
            files=(self.absolute, *self.watch_files),
            stamps=self.stamps(),
            aliases=aliases,
        )

    def aliases(self, doc: Document, raw: Any) -> dict[str, tuple[str, ...]]:
        """The aliases of ``aliases:``: an inline mapping, or files (globs) relative to the config."""
        table = AliasTable()
        if raw is None:
            return table.aliases
        if isinstance(raw, dict):
            table.add(doc, ("aliases",), raw)
            return table.aliases
        patterns = [(("aliases",), raw)] if isinstance(raw, str) else [(("aliases", i), p) for i, p in enumerate(raw)] \
            if isinstance(raw, list) else []
        if not patterns:
            doc.problem(("aliases",), f"got {kind_of(raw)} (expected a file of aliases, a list of files, or a mapping)")
        for at, pattern in patterns:
            if not isinstance(pattern, str):
                doc.problem(at, f"got {kind_of(pattern)} (expected the path of a file of aliases)")
                continue
            absolute = os.path.join(self.directory, os.path.expanduser(pattern))
            matches = self.matches(absolute)
            if not matches:
                where = self.shown_directory or "."
                doc.problem(at, f"{doc.shown(at)} matches no file (expected a file of aliases, relative to {where})")
            for match in matches:
                self.watch_files.append(Path(os.path.abspath(match)))
                shown = match if os.path.isabs(pattern) else os.path.normpath(
                    os.path.join(self.shown_directory, os.path.relpath(match, self.directory))
                )
                alias_doc = self.read(Path(match), shown)
                if alias_doc is not None:
                    value = self.root(alias_doc, "alias name: [spellings]")
                    if value is not None:
                        table.add(alias_doc, (), value)
        return table.aliases

    def channels(self, doc: Document, raw: Any) -> dict[str, ChannelConfig | None]:
        """Each channel: one apprise URL, a list of them, or a mapping with ``url`` and
        ``max_per_minute``."""
        if not isinstance(raw, dict):
            return {}
        out: dict[str, ChannelConfig | None] = {}
        for name, value in raw.items():
            at: FieldPath = ("channels", name)
            if isinstance(value, dict):
                model = check(ChannelConfig, value, doc, at)
                out[name] = model if isinstance(model, ChannelConfig) else None
            else:
                urls = check(_UrlsIn, value, doc, at)
                out[name] = ChannelConfig(url=urls.root) if isinstance(urls, _UrlsIn) else None
            if out[name] is not None and self.channel_url_problem is not None:
                for url_at, url in _channel_urls(at, value):
                    if (problem := self.channel_url_problem(url.strip())) is not None:
                        doc.problem(url_at, problem)
                        out[name] = None
        return out

    def defaults(self, doc: Document, raw: Any) -> Defaults | None:
        raw = {} if raw is None else raw
        if isinstance(raw, dict):
            raw = _one_schedule(doc, ("defaults",), raw)
        model = check(Defaults, raw, doc, ("defaults",))
        if not isinstance(model, Defaults):
            return None
        _check_bounds(doc, ("defaults",), raw if isinstance(raw, dict) else {}, model.min_every, model.max_every,
                      cron=model.cron)
        return model

    def sources(self, doc: Document, raw: Any, defaults: Defaults | None) -> list[SourceConfig | None]:
        if not isinstance(raw, list):
            return []
        out: list[SourceConfig | None] = []
        first: dict[str, int] = {}
        for i, item in enumerate(raw):
            at: FieldPath = ("sources", i)
            if isinstance(item, dict):
                item = _one_schedule(doc, at, item)
                source_id = item.get("id")
                if isinstance(source_id, str) and source_id in first:
                    doc.problem(
                        (*at, "id"),
                        f"duplicate source id {doc.shown((*at, 'id'))} "
                        f"(expected each id once; sources[{first[source_id]}] on line "
                        f"{doc.line(('sources', first[source_id]))} has it too)",
                    )
                elif isinstance(source_id, str):
                    first[source_id] = i
            entry = check(_SourceIn, item, doc, at)
            if not isinstance(entry, _SourceIn):
                out.append(None)
                continue
            if entry.select is not None:
                _check_select_kind(doc, at, entry.kind, entry.select)
            merged = _merge(entry, defaults) if defaults else None
            written = doc.raw.get((*at, "url"), "").strip()
            if merged is not None and "${" in written and written != merged.url:
                merged = merged.model_copy(update={"url_written": written})
            if merged is not None and isinstance(item, dict):
                _check_bounds(doc, at, item, merged.min_every, merged.max_every,
                              cron=merged.cron if _owns_bounds(item) else None)
            out.append(merged)
        return out

    def watchlists(
        self, doc: Document, raw: Any, channels: list[str], source_ids: list[str],
        aliases: dict[str, tuple[str, ...]],
    ) -> list[WatchListConfig | None]:
        if not isinstance(raw, list):
            return []
        found: list[tuple[Document, FieldPath, Any, str | None]] = []
        seen = {self.absolute}
        for i, entry in enumerate(raw):
            at: FieldPath = ("watchlists", i)
            if isinstance(entry, dict):
                found.append((doc, at, entry, None))
            elif isinstance(entry, str):
                found.extend(self.glob(doc, at, entry, seen))
            else:
                expected = "expected a glob of watch-list files, or an inline watch list"
                doc.problem(at, f"got {kind_of(entry)} ({expected})")
        names: dict[str, tuple[str, int]] = {}
        out: list[WatchListConfig | None] = []
        for wl_doc, at, value, stem in found:
            watchlist = _watchlist(wl_doc, at, value, stem, channels, source_ids, aliases)
            raw_name = (value.get("name") or stem) if isinstance(value, dict) else None  # as _watchlist names it
            if isinstance(raw_name, str) and raw_name in names:
                file, line = names[raw_name]
                shown = _shown_name(wl_doc, (*at, "name"), raw_name)
                wl_doc.problem(
                    (*at, "name"),
                    f"duplicate watch-list name {shown} (expected each name once; {file}:{line} has it too)",
                )
            elif isinstance(raw_name, str):
                names[raw_name] = (wl_doc.file, wl_doc.line((*at, "name")))
            out.append(watchlist)
        return out

    def matches(self, pattern: str) -> list[str]:
        """The files an absolute pattern matches, stamped as this read found them: a
        rejected config hands its stamps to the daemon too, which then sees the file a new
        pattern waits for appear."""
        stamp = self.glob_stamps[pattern] = glob_stamp(pattern)
        return [path for path, _ in stamp]

    def glob(
        self, doc: Document, at: FieldPath, pattern: str, seen: set[Path]
    ) -> list[tuple[Document, FieldPath, Any, str | None]]:
        absolute = os.path.join(self.directory, os.path.expanduser(pattern))
        matches = self.matches(absolute)
        if not matches:
            where = self.shown_directory or "."
            expected = f"expected a glob of watch-list files, relative to {where}"
            doc.problem(at, f"{doc.shown(at)} matches no file ({expected})")
        out: list[tuple[Document, FieldPath, Any, str | None]] = []
        for match in matches:
            file = Path(os.path.abspath(match))
            if file in seen:
                continue
            seen.add(file)
            self.watch_files.append(file)
            shown = match if os.path.isabs(pattern) else os.path.normpath(
                os.path.join(self.shown_directory, os.path.relpath(match, self.directory))
            )
            wl_doc = self.read(file, shown)
            if wl_doc is None:
                continue
            value = self.root(wl_doc, "name, keywords and notify")
            if value is not None:
                out.append((wl_doc, (), value, file.stem))
        return out


def _channel_urls(at: FieldPath, value: Any) -> list[tuple[FieldPath, str]]:
    """A channel's URLs with where each is written: the channel's value, its list, or its ``url``."""
    if isinstance(value, dict):
        at, value = (*at, "url"), value.get("url")
    if isinstance(value, str):
        return [(at, value)]
    return [((*at, i), url) for i, url in enumerate(value) if isinstance(url, str)] if isinstance(value, list) else []


def _scrubbed(problems: list[Problem], secrets: dict[str, str]) -> list[Problem]:
    """Replace any substituted value that reached a message with its ``${NAME}``."""
    out = []
    for problem in problems:
        message = problem.message
        for value in sorted(secrets, key=len, reverse=True):
            message = message.replace(value, f"${{{secrets[value]}}}")
        out.append(dataclasses.replace(problem, message=message))
    return out


def _shown_name(doc: Document, path: FieldPath, name: str) -> str:
    return doc.shown(path) if path in doc.raw else repr(name)


def _one_schedule(doc: Document, at: FieldPath, raw: dict[str, Any]) -> dict[str, Any]:
    if raw.get("every") is not None and raw.get("cron") is not None:
        doc.problem((*at, "cron"), "cannot be combined with every (expected either every or cron)")
        return {k: v for k, v in raw.items() if k != "cron"}
    return raw


def _owns_bounds(raw: dict[str, Any]) -> bool:
    return raw.get("min_every") is not None or raw.get("max_every") is not None


def _check_bounds(doc: Document, at: FieldPath, raw: dict[str, Any], low: Any, high: Any, *,
                  cron: str | None) -> None:
    """Adaptive polling needs both bounds, the lower not above the upper, and ``every``:
    a cron schedule fixes the poll times, so there is nothing to adapt."""
    given = "min_every" if raw.get("min_every") is not None else "max_every"
    if cron is not None and _owns_bounds(raw):
        doc.problem((*at, given), "cannot be combined with cron (expected every, or cron without "
                                  "min_every and max_every)")
    elif (low is None) != (high is None) and _owns_bounds(raw):
        missing = "max_every" if high is None else "min_every"
        doc.problem((*at, given), f"is given without {missing} (expected both bounds for adaptive polling)")
    elif low is not None and high is not None and low > high and _owns_bounds(raw):
        doc.problem((*at, given), f"min_every {format_duration(low)} is longer than max_every "
                                  f"{format_duration(high)} (expected min_every <= max_every)")


def _check_select_kind(doc: Document, at: FieldPath, kind: str | None, select: Selectors) -> None:
    """Listing selectors are for html pages; ``content`` for kinds that fetch article pages.

    Why wordpress takes neither: its post text is the API's ``content.rendered``, and no
    article page is fetched for ``content`` to select in.
    """
    if kind == "wordpress":
        doc.problem((*at, "select"), "wordpress sources take no select (expected none: the text is the API's "
                                     "content.rendered)")
    elif select.item is not None and kind not in (None, "html"):
        doc.problem((*at, "select", "item"), f"only html sources select listing items "
                                             f"(expected select.content alone for kind {kind})")


def _merge(entry: _SourceIn, defaults: Defaults) -> SourceConfig:
    given = entry.model_dump(exclude_none=True)
    if "every" not in given and "cron" not in given:
        given["every"], given["cron"] = defaults.every, defaults.cron
    inherited = {k: getattr(defaults, k) for k in ("jitter", "timeout", "fetch_articles", "backfill", "max_pages")}
    if given.get("cron") is None:  # a cron source inherits no adaptive bounds: its times are fixed
        inherited.update({k: getattr(defaults, k) for k in ("min_every", "max_every")})
    return SourceConfig.model_validate({**inherited, **given})


def _watchlist(
    doc: Document,
    at: FieldPath,
    raw: Any,
    stem: str | None,
    channels: list[str],
    source_ids: list[str],
    aliases: dict[str, tuple[str, ...]],
) -> WatchListConfig | None:
    entry = check(_WatchListIn if stem else _InlineWatchListIn, raw, doc, at)
    ok = isinstance(entry, _WatchListIn)
    if isinstance(raw, dict):
        ok = _alias_refs(doc, at, raw, aliases) and ok
    if isinstance(raw, dict):
        if all(raw.get(k) in (None, "", []) for k in ("keywords", "require")):
            expected = "expected at least one keyword or require term"
            doc.problem((*at, "keywords"), f"no terms to match ({expected})")
            ok = False
        ok = _known(doc, (*at, "notify"), raw.get("notify"), channels, "a channel", "channels") and ok
        ok = _known(doc, (*at, "sources"), raw.get("sources"), source_ids, "a source id", "sources") and ok
        ok = _delivery_channels(doc, at, raw) and ok
        ok = _template(doc, (*at, "template"), raw.get("template")) and ok
    if not ok or not isinstance(entry, _WatchListIn):
        return None
    return WatchListConfig(
        name=entry.name or stem or "",
        keywords=entry.keywords,
        require=entry.require,
        exclude=entry.exclude,
        sources=entry.sources,
        notify=entry.notify,
        delivery=entry.delivery or {},
        template=entry.template,
        file=doc.file,
        line=doc.line(at),
    )


def _alias_refs(doc: Document, at: FieldPath, raw: dict[str, Any], aliases: dict[str, tuple[str, ...]]) -> bool:
    """Every ``@name`` in the watch list's terms, however deeply nested, must be a defined
    alias; and every term inside a group must be sound (the schema checks the others), each
    reported at its own line."""
    ok = True

    def visit(path: FieldPath, value: Any, grouped: bool = False) -> None:
        nonlocal ok
        if isinstance(value, str) and (grouped or alias_refs(value)):
            problem = term_problem(value, aliases) if value.strip() else None  # (empty: the schema's)
            if problem is not None:
                doc.problem(yaml_path(doc, path), problem)
                ok = False
        elif isinstance(value, list):
            for i, item in enumerate(value):
                visit((*path, i), item, grouped)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit((*path, key), item, True)

    for key in ("keywords", "require", "exclude"):
        visit((*at, key), raw.get(key))
    return ok


def _delivery_channels(doc: Document, at: FieldPath, raw: dict[str, Any]) -> bool:
    """Each channel a watch list's ``delivery`` names must be one it notifies."""
    delivery, notify = raw.get("delivery"), raw.get("notify")
    if not isinstance(delivery, dict):
        return True
    notified = [notify] if isinstance(notify, str) else [n for n in notify or [] if isinstance(n, str)]
    ok = True
    for name in delivery:
        if name not in notified:
            path = (*at, "delivery", name)
            choices = ", ".join(notified) or "none"
            doc.problem(path, f"{name!r} is not a channel this watch list notifies (expected one of: {choices})")
            ok = False
    return ok


def _template(doc: Document, at: FieldPath, raw: Any) -> bool:
    if not isinstance(raw, str) or not raw.strip():
        return True
    from monitor.notify.template import template_problem

    problem = template_problem(raw)
    if problem is not None:
        doc.problem(at, problem)
    return problem is None


def _known(doc: Document, at: FieldPath, raw: Any, known: list[str], what: str, section: str) -> bool:
    """Check that each name in ``raw`` (one name, or a list of them) is one of ``known``."""
    if isinstance(raw, str):
        named: list[tuple[FieldPath, Any]] = [(at, raw)]
    else:
        named = [((*at, i), name) for i, name in enumerate(raw)] if isinstance(raw, list) else []
    choices = f"one of: {', '.join(known)}" if known else f"a name defined under {section}:, and there are none"
    ok = True
    for path, name in named:
        if isinstance(name, str) and name.strip() and name not in known:
            doc.problem(path, f"{doc.shown(path)} is not {what} (expected {choices})")
            ok = False
    return ok


_OWN_VALUES = frozenset({"id", "name", "url"})  # one source's own: nothing to share


def _sharing_equal_parts(sources: Iterable[SourceConfig]) -> tuple[SourceConfig, ...]:
    """The sources, with the parts that are equal between them held once.

    Why: pydantic gives each model its own set of the field names it was given (728 bytes
    at 13 names), 7 MB at 10,000 sources, and a name copied from the id its own string.
    Sources with the same names set share one set; the models are frozen, so nothing adds
    to it in place (pydantic's model_copy copies it first), and a pickle of the config
    (how the config child hands it over) keeps it shared. So do equal values: each source
    written out with ``kind: html`` and the same selectors as its site's other listings
    had its own string and its own selectors model (~0.5 KB, 1.2 MB over the bench's
    2,500 listings), and an interval given per source its own timedelta."""
    sets: dict[frozenset[str], set[str]] = {}
    values: dict[tuple[str, object, frozenset[str] | None], object] = {}
    shared = []
    for source in sources:
        given = source.__pydantic_fields_set__
        object.__setattr__(source, "__pydantic_fields_set__", sets.setdefault(frozenset(given), given))
        if source.name == source.id and source.name is not source.id:
            source.__dict__["name"] = source.id
        fields = source.__dict__
        for field, value in list(fields.items()):
            if field not in _OWN_VALUES and value is not None:
                # A model's fields-set is in the key: pydantic's == leaves it out.
                value_given = frozenset(value.model_fields_set) if isinstance(value, BaseModel) else None
                try:
                    fields[field] = values.setdefault((field, value, value_given), value)
                except TypeError:  # a value that cannot be hashed stays the source's own
                    pass
        shared.append(source)
    return tuple(shared)
