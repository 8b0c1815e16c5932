"""Matching throughput for 10, 1,000 and 10,000 watch-list terms over about 1 MB of text.

Run: ``.venv/bin/python bench/bench_match.py``. The text is the ISAF press releases from
../shared/corpus (real English news prose, repeated to 1 MB) when that folder is there,
else a generated text. Terms beyond the first ten are generated names, places, acronyms
and phrases (some with diacritics, some in Urdu), ten to a watch list, like real lists:
absent from the text as words, so the figures measure the scan, not the alerts.
Two figures per size: one 1 MB body in one call, and the same text as separate items
(title + body each), which adds the per-item costs. The last row takes the 10,000 terms
written in the term language instead (spellings, title:, ~N proximity, nested groups),
so its figures add the cost of judging those rules.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

from monitor.match import Matcher, WatchRule
from monitor.watchlang import Group

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "isaf-press-releases" / "press_releases.jsonl"
TARGET_BYTES = 1_000_000
BASE_TERMS = (
    "ISAF",
    "ISPR",
    "Inter-Services Public Relations",
    "COAS",
    "Kayani",
    "Joseph Dunford",
    "Helmand",
    "Kandahar",
    "Taliban",
    "Afghan National Army",
)
SYLLABLES = "ka ri to man sha bel dor vin qu zel mo ra ni stan pur gul ab ad har lo mir za wa ye".split()
URDU = "پاک فوج وزیر اعظم کراچی لاہور پشاور کوئٹہ عدالت حکومت".split()


def items() -> list[tuple[str, str]]:
    """(title, body) pairs totalling about TARGET_BYTES of UTF-8."""
    if CORPUS.exists():
        texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").split("\n") if line]
    else:
        rng = random.Random(7)
        words = [_name(rng).lower() for _ in range(3000)] + "the of and in to a said forces".split() * 200
        texts = [
            " ".join(rng.choice(words) for _ in range(150)).capitalize() + ".\n" + " ".join(URDU[:3])
            for _ in range(500)
        ]
    out: list[tuple[str, str]] = []
    size = 0
    while size < TARGET_BYTES:
        for text in texts:
            title, _, body = text.partition("\n")
            out.append((title, body))
            size += len(text.encode())
            if size >= TARGET_BYTES:
                break
    return out


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def terms(count: int, vocabulary: set[str]) -> list[str]:
    """BASE_TERMS and then generated terms, ``count`` in all, without duplicates; a generated
    term that is a word of the text (an acronym like "AREA") is skipped."""
    rng = random.Random(count)
    found = dict.fromkeys(BASE_TERMS)
    while len(found) < count:
        kind = rng.random()
        if kind < 0.35:
            term = f"{_name(rng)} {_name(rng)}"  # a person
        elif kind < 0.6:
            term = _name(rng)  # a place or a surname
        elif kind < 0.75:
            term = "".join(rng.choice("ABCDEFGHIKLMNOPRSTUW") for _ in range(rng.randint(3, 5)))
        elif kind < 0.85:
            term = f"{_name(rng)} {rng.choice(['Ministry', 'Corps', 'Council', 'Front'])} of {_name(rng)}"
        elif kind < 0.93:
            term = _name(rng).replace("a", "á", 1).replace("o", "ö", 1)
        else:
            term = " ".join(rng.sample(URDU, 2))
        if term.lower() not in vocabulary:
            found[term] = None
    return list(found)


SIZES = (10, 1_000, 10_000)
LANGUAGE = "10,000 lang"
ROUNDS = 7


def language_rule(name: str, ten: list[str]) -> WatchRule:
    """Ten terms as one list that uses every form of the term language."""
    t = ten + [ten[-1]] * (10 - len(ten))
    return WatchRule(name=name, keywords=(f"{t[0]} | {t[1]}", f"title:{t[2]}", f"{t[3]} ~10 {t[4]}",
                                          Group(kind="all", items=(t[5], t[6])), t[7], f"body:{t[8]} | {t[9]}"))


def main() -> None:
    pieces = items()
    body = "\n\n".join(f"{title}\n{text}" for title, text in pieces)
    megabytes = len(body.encode()) / 1e6
    vocabulary = set(re.findall(r"\w+", body.lower()))
    print(f"text: {megabytes:.2f} MB in {len(pieces)} items ({'ISAF corpus' if CORPUS.exists() else 'generated'})")
    matchers: dict[int | str, Matcher] = {}
    compiled: dict[int | str, float] = {}
    for count in SIZES:
        chosen = terms(count, vocabulary)
        rules = [WatchRule(name=f"list-{i}", keywords=tuple(chosen[i : i + 10])) for i in range(0, count, 10)]
        started = time.process_time()
        matchers[count] = Matcher(rules)
        compiled[count] = time.process_time() - started
    rules = [language_rule(f"list-{i}", chosen[i : i + 10]) for i in range(0, SIZES[-1], 10)]
    started = time.process_time()
    matchers[LANGUAGE] = Matcher(rules)
    compiled[LANGUAGE] = time.process_time() - started
    runs: dict[str, Callable[[Matcher], object]] = {
        "body": lambda m: m.match(source_id="bench", title="", body=body),
        "items": lambda m: [m.match(source_id="bench", title=t, body=b) for t, b in pieces],
    }
    # Rounds go through every size in turn, and each figure is its fastest round in CPU
    # time: when others share the machine, a slow spell then hits all sizes alike.
    best = {(count, kind): float("inf") for count in matchers for kind in runs}
    for _ in range(ROUNDS):
        for count in matchers:
            for kind, run in runs.items():
                started = time.process_time()
                run(matchers[count])
                best[count, kind] = min(best[count, kind], time.process_time() - started)
    print("      terms  lists  compile s  1 body MB/s  (cost vs 10)  items MB/s  (cost vs 10)  alerts")
    for count in matchers:
        one, many = best[count, "body"], best[count, "items"]
        alerts = sum(len(matchers[count].match(source_id="bench", title=t, body=b)) for t, b in pieces)
        label = f"{count:,}" if isinstance(count, int) else count
        lists = count // 10 if isinstance(count, int) else SIZES[-1] // 10
        print(
            f"{label:>11} {lists:>6,} {compiled[count]:>10.2f} {megabytes / one:>12.1f}"
            f" {one / best[SIZES[0], 'body']:>12.2f}x {megabytes / many:>11.1f}"
            f" {many / best[SIZES[0], 'items']:>12.2f}x {alerts:>7}"
        )


if __name__ == "__main__":
    main()
