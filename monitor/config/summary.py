"""The summary ``monitor validate`` prints: what will run, and where alerts go (never URLs)."""

from __future__ import annotations

from monitor.config.schema import Config, SourceConfig, format_duration


def summarize(config: Config) -> str:
    """Sources (id, kind, schedule), channel names, and watch lists, one line each."""
    lines = [
        f"config: {config.path}",
        f"database: {config.database}",
        f"timezone: {config.timezone}",
        f"sources ({len(config.sources)}):",
    ]
    width = max((len(s.id) for s in config.sources), default=0)
    for source in config.sources:
        lines.append(f"  {source.id:<{width}}  {source.kind or 'detect':<9}  {_schedule(source)}")
    lines.append(f"channels ({len(config.channels)}): {', '.join(config.channels) or '-'}")
    lines.append(f"watch lists ({len(config.watchlists)}):")
    width = max((len(w.name) for w in config.watchlists), default=0)
    for wl in config.watchlists:
        terms = len(wl.keywords) + len(wl.require) + len(wl.exclude)
        only = f", sources: {', '.join(wl.sources)}" if wl.sources is not None else ""
        lines.append(
            f"  {wl.name:<{width}}  {wl.file}:{wl.line}  {terms} term{'s' if terms != 1 else ''}"
            f"  -> {', '.join(wl.notify)}{only}"
        )
    return "\n".join(lines)


def _schedule(source: SourceConfig) -> str:
    when = f"every {format_duration(source.every)}" if source.every is not None else f"cron {source.cron}"
    if source.adaptive and source.min_every is not None and source.max_every is not None:
        when += f", adaptive {format_duration(source.min_every)}-{format_duration(source.max_every)}"
    if source.jitter:
        when += f" (jitter {format_duration(source.jitter)})"
    return when
