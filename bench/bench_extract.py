"""Main-text extraction scored on the whole article-extraction-benchmark set.

Usage: .venv/bin/python bench/bench_extract.py [CORPUS_DIR] [--worst N]

The metric is the benchmark's own (its SOURCE.md): per page, 4-token shingle multisets of
``\\w+`` tokens give precision and recall; both are averaged over pages; F1 is computed from
the averages. Prints one line per baseline stored with the set for comparison.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.extract import extract_article  # noqa: E402 - after the path set-up

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "article-extraction-benchmark"


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text)
    return Counter(tuple(tokens[i : i + 4]) for i in range(max(len(tokens) - 3, 0)))


def precision_recall(predicted: str, truth: str) -> tuple[float, float]:
    pred, true = shingles(predicted), shingles(truth)
    tp = sum((pred & true).values())
    fp, fn = sum(pred.values()) - tp, sum(true.values()) - tp
    precision = tp / (tp + fp) if tp + fp else float(fn == 0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def score(pairs: list[tuple[str, float, float]]) -> tuple[float, float, float]:
    precision = sum(p for _, p, _ in pairs) / len(pairs)
    recall = sum(r for _, _, r in pairs) / len(pairs)
    return precision, recall, 2 * precision * recall / (precision + recall)


def score_pages(corpus: Path, page_ids: list[str] | None = None) -> list[tuple[str, float, float]]:
    """(page id, precision, recall) of our extraction for each page (all pages by default)."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    pairs: list[tuple[str, float, float]] = []
    for page_id in sorted(truth) if page_ids is None else page_ids:
        html = gzip.decompress((corpus / "html" / f"{page_id}.html.gz").read_bytes())
        text = extract_article(html, url=truth[page_id]["url"]).text
        pairs.append((page_id, *precision_recall(text, truth[page_id]["articleBody"])))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--worst", type=int, default=5, help="list the N pages with the lowest F1")
    args = parser.parse_args()
    truth_file = args.corpus / "ground-truth.json"
    if not truth_file.is_file():
        print(f"benchmark not found: {truth_file} (pass the corpus directory)", file=sys.stderr)
        return 2
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    started = time.perf_counter()
    ours = score_pages(args.corpus)
    seconds = time.perf_counter() - started
    precision, recall, f1 = score(ours)
    print(f"press-monitor  pages={len(ours)} f1={f1:.3f} precision={precision:.3f} recall={recall:.3f} "
          f"seconds={seconds:.1f}")
    for baseline in sorted((args.corpus / "baseline-output").glob("*.json")):
        document = json.loads(baseline.read_text(encoding="utf-8"))
        output = document.get("output", document)
        pairs = [(pid, *precision_recall(output.get(pid, {}).get("articleBody") or "", truth[pid]["articleBody"]))
                 for pid in sorted(truth)]
        b_precision, b_recall, b_f1 = score(pairs)
        print(f"{baseline.stem:<14} pages={len(pairs)} f1={b_f1:.3f} precision={b_precision:.3f} "
              f"recall={b_recall:.3f} (stored output)")
    for page_id, p, r in sorted(ours, key=lambda x: 2 * x[1] * x[2] / (x[1] + x[2] or 1))[: args.worst]:
        print(f"  worst {page_id} precision={p:.2f} recall={r:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
