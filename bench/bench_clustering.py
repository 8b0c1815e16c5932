"""Precision and recall of "same story" on a labelled set built from real ISAF releases.

    .venv/bin/python bench/bench_clustering.py [--corpus DIR]

The corpus (../shared/corpus/isaf-press-releases, see its SOURCE.md) holds real releases
from one office with shared boilerplate and datelines. Positives are each release paired
with copies edited the way syndication edits them (verbatim, headline rewritten, first
paragraph trimmed, site chrome added, light copy edits, and all of these at once), and
those copies with each other. A rewritten headline keeps the release's places and names
(what a sub-editor keeps) in new words. Negatives are different releases: every pair with
the same dateline, each release with the three others closest to it in wording (the
hardest cases the corpus has), a syndicated copy of one against the other, and same-day
pairs that both end with the same long standard paragraph. Pairs of releases that are
textually the same release are left out as unlabelled.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.signatures import SignatureTable  # noqa: E402
from monitor.stories import NUM_PERM, Fingerprint, fingerprint, same_story, share, words  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "isaf-press-releases"
_DATELINE = re.compile(r"\(([A-Z][a-z]+\.? \d{1,2}, \d{4})\)")
_REFERENCE = re.compile(r"\b20\d\d-\d\d-[A-Z]+-\d+\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
CHROME_TOP = ("Home | Pakistan | World | Business | Sport | Opinion | E-Paper\n"
              "Share on Facebook  Share on X  WhatsApp  Email\n")
CHROME_BOTTOM = ("\nRelated stories\n{related}\nMost read\n{more}\n"
                 "Follow us on Facebook and X for the latest news.\n"
                 "Copyright © 2026 The Daily Courier. All rights reserved.")
CLOSING = ("The statement was issued after a meeting of senior officials at the headquarters, where the "
           "participants reviewed the regional security situation and the progress of ongoing cooperation. "
           "Officials said the discussions were held in a cordial atmosphere and that both sides agreed to "
           "continue the dialogue at the next scheduled session later this month.")
HEADLINES = ("security operation reported", "forces announce arrests after raid", "officials describe overnight raid",
             "militants held, officials say", "troops strike insurgent cell")
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]{3,})\b")
EDITS = (("Afghan and coalition", "Afghan and NATO-led"), ("coalition", "NATO-led"), ("insurgents", "militants"),
         ("yesterday", "on Monday"), ("detained", "arrested"), ("province", "Province"))


@dataclass(frozen=True, kw_only=True)
class Release:
    key: str
    date: str | None
    title: str
    text: str


def load(corpus: Path) -> list[Release]:
    releases = []
    for line in (corpus / "press_releases.jsonl").read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        row = json.loads(line)
        text = row["text"].strip()
        first, _, rest = text.partition("\n")
        if row["id"] is None and rest.strip() and len(first.split()) <= 20:
            title, body = first.strip(), rest.strip()
        else:
            body = text
            lead = _lead(body)
            title = " ".join(lead.split()[:12])
        date = _DATELINE.search(body)
        releases.append(Release(key=str(row["line"]), date=date.group(1) if date else None, title=title, text=body))
    return releases


def _lead(body: str) -> str:
    """The first sentence after the boilerplate and dateline."""
    after = _DATELINE.split(body, maxsplit=1)[-1]
    sentences = [s for s in _SENTENCE.split(after.strip()) if len(s.split()) > 3]
    return sentences[0] if sentences else after


def variants(release: Release, others: list[Release], rng: random.Random) -> dict[str, tuple[str, str]]:
    """(title, text) of syndicated copies of ``release``."""
    sentences = _SENTENCE.split(release.text)
    paragraphs = [p for p in release.text.split("\n") if p.strip()]
    if len(paragraphs) > 2:
        trimmed = "\n".join(paragraphs[1:])
    else:
        trimmed = " ".join(sentences[1:]) if len(sentences) > 2 else release.text
    names = [n for n in dict.fromkeys(_PROPER.findall(release.title + " " + _lead(release.text)))
             if n not in ("During", "Afghanistan", "Command", "Joint", "Immediate", "Release", "Kabul")]
    retitle = f"{', '.join(names[:2]) or 'Afghanistan'}: {rng.choice(HEADLINES)}"
    related = "\n".join(o.title for o in rng.sample(others, 3))
    more = "\n".join(o.title for o in rng.sample(others, 3))
    chrome = CHROME_TOP + release.text + CHROME_BOTTOM.format(related=related, more=more)
    edited = release.text
    for old, new in EDITS:
        edited = edited.replace(old, new)
    edited = "KABUL, (APP): " + edited
    everything = CHROME_TOP + trimmed + CHROME_BOTTOM.format(related=related, more=more)
    return {
        "verbatim": (release.title, release.text),
        "retitled": (f"APP: {retitle}", release.text),
        "trimmed": (release.title, trimmed),
        "chrome": (release.title, chrome),
        "edited": (release.title, edited),
        "all": (f"{retitle} (APP)", everything),
    }


@dataclass(frozen=True, kw_only=True)
class Pair:
    a: Fingerprint
    b: Fingerprint
    same: bool
    kind: str


def build_pairs(corpus: Path, *, hard_negatives: int = 3, seed: int = 1, limit: int | None = None) -> list[Pair]:
    """The labelled pairs; ``limit`` keeps only the first releases (for a quick test)."""
    rng = random.Random(seed)
    releases = load(corpus)[:limit]
    prints = {r.key: fingerprint(title=r.title, text=r.text) for r in releases}
    normal = {r.key: " ".join(words(r.text)) for r in releases}
    refs = {r.key: set(_REFERENCE.findall(r.text)) for r in releases}
    pairs: list[Pair] = []
    for release in releases:
        copies = variants(release, [o for o in releases if o.key != release.key], rng)
        copy_prints = {k: fingerprint(title=t, text=x) for k, (t, x) in copies.items()}
        for kind, fp in copy_prints.items():
            pairs.append(Pair(a=prints[release.key], b=fp, same=True, kind=kind))
        # Two outlets' copies of the same release, with different edits.
        for one, two in (("retitled", "trimmed"), ("chrome", "edited"), ("all", "edited")):
            pairs.append(Pair(a=copy_prints[one], b=copy_prints[two], same=True, kind=f"{one}~{two}"))
    negatives: set[tuple[str, str]] = set()
    by_date: dict[str, list[Release]] = defaultdict(list)
    for release in releases:
        if release.date:
            by_date[release.date].append(release)
    for group in by_date.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                low, high = sorted((a.key, b.key))
                negatives.add((low, high))
    signatures = SignatureTable(NUM_PERM)
    for r in releases:
        signatures.append(prints[r.key].signature)
    for i, release in enumerate(releases):
        item = prints[release.key]
        shares = [share(agree, item.shingles, prints[r.key].shingles)
                  for agree, r in zip(signatures.agreements(item.signature), releases, strict=True)]
        shares[i] = -1.0
        for j in sorted(range(len(shares)), key=shares.__getitem__, reverse=True)[:hard_negatives]:
            low, high = sorted((release.key, releases[j].key))
            negatives.add((low, high))
    by_key = {r.key: r for r in releases}
    for a_key, b_key in sorted(negatives):
        if normal[a_key] in normal[b_key] or normal[b_key] in normal[a_key] or refs[a_key] & refs[b_key]:
            continue  # the corpus holds the same release twice (or in parts): not a negative
        kind = "same-date" if by_key[a_key].date and by_key[a_key].date == by_key[b_key].date else "closest"
        pairs.append(Pair(a=prints[a_key], b=prints[b_key], same=False, kind=kind))
        # A syndicated copy of one release must not join a different release either.
        copy_title, copy_text = variants(by_key[a_key], [by_key[b_key]] * 3, rng)["chrome"]
        pairs.append(Pair(a=fingerprint(title=copy_title, text=copy_text), b=prints[b_key], same=False,
                          kind=f"{kind}+chrome"))
        if kind == "same-date":
            left, right = by_key[a_key], by_key[b_key]
            pairs.append(Pair(a=fingerprint(title=left.title, text=f"{left.text}\n{CLOSING}"),
                              b=fingerprint(title=right.title, text=f"{right.text}\n{CLOSING}"), same=False,
                              kind="same-date+closing"))
    return pairs


@dataclass(frozen=True, kw_only=True)
class Score:
    precision: float
    recall: float
    positives: int
    negatives: int
    missed: dict[str, int]
    wrong: dict[str, int]


def evaluate(pairs: list[Pair]) -> Score:
    tp = fp = fn = 0
    missed: dict[str, int] = defaultdict(int)
    wrong: dict[str, int] = defaultdict(int)
    for pair in pairs:
        said = same_story(pair.a, pair.b)
        if said and pair.same:
            tp += 1
        elif said:
            fp += 1
            wrong[pair.kind] += 1
        elif pair.same:
            fn += 1
            missed[pair.kind] += 1
    return Score(precision=tp / max(tp + fp, 1), recall=tp / max(tp + fn, 1),
                 positives=sum(p.same for p in pairs), negatives=sum(not p.same for p in pairs),
                 missed=dict(missed), wrong=dict(wrong))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    if not (args.corpus / "press_releases.jsonl").is_file():
        print(f"{args.corpus}: no press_releases.jsonl here (expected the isaf-press-releases corpus)",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    pairs = build_pairs(args.corpus)
    score = evaluate(pairs)
    print(f"pairs: {score.positives} same-story, {score.negatives} different-story")
    print(f"precision: {score.precision:.3f}")
    print(f"recall:    {score.recall:.3f}")
    print(f"missed (same story, kept apart): {score.missed or 'none'}")
    print(f"wrong (different stories, joined): {score.wrong or 'none'}")
    print(f"seconds: {time.perf_counter() - started:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
