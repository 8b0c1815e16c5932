"""A deterministic synthetic news site: N feed sources, listing pages and article pages.

Everything is derived from (seed, source number, item number), so two runs with the same
arguments write byte-identical files with identical mtimes, and nginx gives identical
ETags. Keywords are planted in article bodies (and, for some items, in the feed's own text
too); decoys put the same keywords in every article page's sidebar, "Recent News" box and
footer, where a correct monitor must not see them.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

KEYWORDS = ("Zephyrine", "Orlanthis", "Kessova Accord")
ITEMS_PER_FEED = 12
NEW_PER_PUBLISH = 3  # per published source: body-only keyword, keyword in the feed too, decoy
BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)
KINDS = ("rss",) * 10 + ("atom",) * 5 + ("json",) * 3 + ("html",) * 2  # by source number % 20

_WORDS = (
    "minister government council review budget talks delegation statement officials regional "
    "committee agreement trade port harbour tariff reform energy water supply project funding "
    "infrastructure programme public sector report quarterly growth inflation survey courts ruling "
    "health schools teachers province district police security border customs exports imports grain "
    "rail corridor airport expansion contract tender audit board chairman spokesperson annual summit "
    "visit bilateral cooperation framework investment loan bank markets index shares climate flood "
    "relief rescue volunteers hospital clinic vaccine campaign election commission candidates polling"
).split()
_ORGS = ("Ministry of Ports", "Central Bank", "Water Authority", "Planning Commission", "City Council",
         "Railways Board", "Health Department", "Trade Office", "Energy Regulator", "Customs Service")
_VERBS = ("announces", "reviews", "approves", "launches", "suspends", "extends", "publishes", "signs")


@dataclass(frozen=True, kw_only=True)
class Item:
    source: int
    number: int
    title: str
    url: str
    published: datetime
    teaser: str
    role: str  # "old" | "body" (keyword in article only) | "feed" (in feed text too) | "decoy"

    @property
    def planted(self) -> bool:
        return self.role in ("body", "feed")


@dataclass(frozen=True, kw_only=True)
class Source:
    number: int
    kind: str
    host: str
    port: int

    @property
    def id(self) -> str:
        return f"s{self.number:05d}"

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}/{self.id}"

    @property
    def path(self) -> str:
        return {"rss": "feed.xml", "atom": "atom.xml", "json": "feed.json", "html": "news.html"}[self.kind]

    @property
    def url(self) -> str:
        return f"{self.base}/{self.path}"


@dataclass(kw_only=True)
class Site:
    root: Path
    sources: list[Source]
    seed: int = 7
    # Items are dated from it: the newest old item an hour before, published ones minutes
    # after. The daemon bench sets it to just before its run, so sources look alive (a site
    # quiet for weeks would have the health check flag all 10,000 sources at the baseline).
    base_time: datetime = BASE_TIME
    published: list[Item] = field(default_factory=list)

    # -- building ---------------------------------------------------------------------

    @classmethod
    def generate(cls, root: Path, *, count: int, hosts: list[str], port: int, seed: int = 7,
                 base_time: datetime = BASE_TIME) -> Site:
        sources = [Source(number=n, kind=KINDS[n % len(KINDS)], host=hosts[n % len(hosts)], port=port)
                   for n in range(count)]
        site = cls(root=root, sources=sources, seed=seed, base_time=base_time)
        mtime = base_time.timestamp()
        for source in sources:
            items = [site._item(source, k, "old") for k in range(ITEMS_PER_FEED, 0, -1)]
            site._write_listing(source, items, mtime)
        return site

    def publish(self, share: float = 0.1) -> list[Item]:
        """Add NEW_PER_PUBLISH items to every 1/share-th source; returns the new items."""
        step = max(1, round(1 / share))
        mtime = (self.base_time + timedelta(minutes=20)).timestamp()
        fresh: list[Item] = []
        for source in self.sources[::step]:
            roles = ("body", "feed", "decoy")
            new = [self._item(source, ITEMS_PER_FEED + 1 + j, roles[j]) for j in range(NEW_PER_PUBLISH)]
            old = [self._item(source, k, "old") for k in range(ITEMS_PER_FEED, NEW_PER_PUBLISH, -1)]
            items = list(reversed(new)) + old
            self._write_listing(source, items, mtime)
            for item in new:
                self._write_article(item, mtime)
            fresh.extend(new)
        self.published.extend(fresh)
        return fresh

    def _rng(self, *key: object) -> random.Random:
        return random.Random(f"{self.seed}:" + ":".join(map(str, key)))

    def _item(self, source: Source, number: int, role: str) -> Item:
        rng = self._rng("item", source.number, number)
        title = (f"{rng.choice(_ORGS)} {rng.choice(_VERBS)} {' '.join(rng.sample(_WORDS, 3))},"
                 f" release {source.number}/{number}")
        teaser = " ".join(rng.choice(_WORDS) for _ in range(38))
        if role == "feed":
            teaser = f"{teaser[:120]} {KEYWORDS[number % len(KEYWORDS)]} {teaser[120:]}"
        elif role == "old" and source.number % 10 == 3 and number == 2:
            teaser = f"{teaser[:80]} {KEYWORDS[0]} {teaser[80:]}"  # an old mention: not new, no alert
        published = self.base_time - timedelta(hours=(ITEMS_PER_FEED - number) * 6 + 1, minutes=source.number % 60)
        if role != "old":
            published = self.base_time + timedelta(minutes=number)
        return Item(source=source.number, number=number, title=title, url=f"{source.base}/a{number:04d}.html",
                    published=published, teaser=f"{title}. {teaser}.", role=role)

    # -- writing ----------------------------------------------------------------------

    def _write(self, relative: str, text: str, mtime: float) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.utime(path, (mtime, mtime))

    def _write_listing(self, source: Source, items: list[Item], mtime: float) -> None:
        render = {"rss": _rss, "atom": _atom, "json": _json_feed, "html": _html_listing}[source.kind]
        self._write(f"{source.id}/{source.path}", render(source, items), mtime)

    def _write_article(self, item: Item, mtime: float) -> None:
        self._write(f"s{item.source:05d}/a{item.number:04d}.html", self._article(item), mtime)

    def _article(self, item: Item) -> str:
        rng = self._rng("article", item.source, item.number)
        target = rng.randint(40_000, 120_000)
        paragraphs = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(60, 110))).capitalize() + "."
                      for _ in range(rng.randint(6, 12))]
        if item.planted:
            keyword = KEYWORDS[item.number % len(KEYWORDS)]
            middle = len(paragraphs) // 2
            words = paragraphs[middle].split()
            words.insert(len(words) // 2, f"{keyword}'s")
            paragraphs[middle] = " ".join(words)
        decoy = KEYWORDS[(item.number + 1) % len(KEYWORDS)]
        nav = "".join(f'<li><a href="/section/{w}">{w.title()}</a></li>' for w in rng.sample(_WORDS, 40))
        recent = "".join(f'<li><a href="/r/{k}">{decoy if k == 0 else rng.choice(_ORGS)} '
                         f'{" ".join(rng.sample(_WORDS, 6))}</a></li>' for k in range(8))
        must = "".join(f'<li><a href="/m/{k}">{" ".join(rng.sample(_WORDS, 7))}</a></li>' for k in range(6))
        footer = "".join(f'<a href="/f/{w}">{w}</a> ' for w in rng.sample(_WORDS, 60))
        body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(item.title)}</title>
<meta property="og:title" content="{escape(item.title)}">
<style>{_css(rng)}</style></head>
<body><header class="site-header"><a class="logo" href="/">The Daily Synthetic</a>
<nav class="menu"><ul>{nav}</ul></nav></header>
<div class="layout"><main><article class="story">
<h1>{escape(item.title)}</h1>
<p class="byline">By Staff Reporter <time datetime="{item.published.isoformat()}">{item.published:%d %B %Y}</time></p>
<div class="story-body">
{body}
</div></article></main>
<aside class="sidebar"><section class="recent"><h2>Recent News</h2><ul>{recent}</ul></section>
<section class="must-read"><h2>Must read</h2><ul>{must}</ul></section>
<div class="ad">Advertisement: {decoy} travel deals, book now</div></aside></div>
<footer class="site-footer"><p>Trending: {decoy}</p><nav>{footer}</nav><p>&copy; 2026 The Daily Synthetic</p></footer>
"""
        scripts = []
        while len(page) + sum(map(len, scripts)) < target:
            blob = [{"id": rng.randrange(10**9), "w": rng.sample(_WORDS, 8), "v": rng.random()} for _ in range(40)]
            scripts.append(f"<script>window.__ads_{len(scripts)} = {json.dumps(blob)};</script>\n")
        return page + "".join(scripts) + "</body></html>\n"


def _css(rng: random.Random) -> str:
    rules = []
    for k in range(150):
        rules.append(f".c{k}-{rng.choice(_WORDS)}{{margin:{rng.randint(0, 20)}px;color:#{rng.randrange(16**6):06x}}}")
    return "\n".join(rules)


def _rss(source: Source, items: list[Item]) -> str:
    entries = "".join(
        f"<item>\n<title>{escape(i.title)}</title>\n<link>{i.url}</link>\n"
        f'<guid isPermaLink="true">{i.url}</guid>\n<pubDate>{format_datetime(i.published)}</pubDate>\n'
        f"<description>{escape(i.teaser)}</description>\n</item>\n" for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
            f"<title>Source {source.number}</title>\n<link>{source.base}/</link>\n"
            f"<description>Press releases of source {source.number}</description>\n{entries}</channel>\n</rss>\n")


def _atom(source: Source, items: list[Item]) -> str:
    entries = "".join(
        f"<entry>\n<title>{escape(i.title)}</title>\n<link href=\"{i.url}\"/>\n<id>{i.url}</id>\n"
        f"<updated>{i.published.isoformat()}</updated>\n<summary>{escape(i.teaser)}</summary>\n</entry>\n"
        for i in items)
    updated = max(i.published for i in items).isoformat()
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
            f"<title>Source {source.number}</title>\n<id>{source.base}/</id>\n<updated>{updated}</updated>\n"
            f'<link href="{source.base}/"/>\n{entries}</feed>\n')


def _json_feed(source: Source, items: list[Item]) -> str:
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": f"Source {source.number}",
            "home_page_url": f"{source.base}/",
            "items": [{"id": i.url, "url": i.url, "title": i.title, "content_text": i.teaser,
                       "date_published": i.published.isoformat()} for i in items]}
    return json.dumps(feed, indent=1) + "\n"


def _html_listing(source: Source, items: list[Item]) -> str:
    rows = "".join(
        f'<li class="release"><a href="{i.url}">{escape(i.title)}</a> <span class="date">'
        f"{i.published:%Y-%m-%d}</span> <p>{escape(i.teaser)}</p></li>\n" for i in items)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Source {source.number} news</title>"
            f"</head>\n<body><nav><a href=\"/\">Home</a> <a href=\"/about\">About</a></nav>\n"
            f"<h1>Press releases</h1>\n<ul class=\"releases\">\n{rows}</ul>\n"
            f"<footer>Contact the press office</footer></body></html>\n")
