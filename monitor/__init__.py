"""press-monitor: watch news sources, store each item once, alert on watch-list matches."""

__version__ = "0.1.0"
