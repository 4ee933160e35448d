"""Events on the labelled corpus, label by label: P/R/F1 per action and per measure with 95% bootstrap
intervals over texts, and how often matched events agree on target and elements.

Usage: python bench/corpus_labels.py [--split dev|train|all] [--corpus PATH]
The corpus is other people's writing, read from ../shared/corpus; nothing of it is written here.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from models.annotation import Annotation, ArticleText, EventRecord
from models.vocabulary import ACTIONS, MEASURES
from pipeline.extraction import standard_extractor
from pipeline.extraction.training import read_corpus
from pipeline.fetching.times import parse_datetime

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "labelled.jsonl"
RESAMPLES = 2000
Act = tuple[str | None, str, str]
Counts = tuple[int, int, int]  # hits, found, wanted


def f1(counts: Sequence[Counts]) -> tuple[float, float, float]:
    """Precision, recall and F1 of summed counts."""
    hits, found, wanted = (sum(c[i] for c in counts) for i in range(3))
    precision = hits / found if found else 0.0
    recall = hits / wanted if wanted else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if hits else 0.0)


def interval(counts: Sequence[Counts]) -> tuple[float, float]:
    """The 95% bootstrap interval of F1, texts resampled with a fixed seed."""
    pick = random.Random(7)
    scores = sorted(
        f1([counts[pick.randrange(len(counts))] for _ in counts])[2] for _ in range(RESAMPLES)
    )
    return scores[int(RESAMPLES * 0.025)], scores[int(RESAMPLES * 0.975) - 1]


def per_text(
    gold: Sequence[set[Act]], found: Sequence[set[Act]], keep: Callable[[Act], bool]
) -> list[Counts]:
    """Hits, found and wanted per text, for the acts `keep` selects."""
    return [
        (len({a for a in g & f if keep(a)}), len({a for a in f if keep(a)}), len({a for a in g if keep(a)}))
        for g, f in zip(gold, found, strict=True)
    ]  # fmt: skip


def main() -> int:
    """Annotate the split and print the figures label by label."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", help="dev (default), train or all")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    texts: list[dict[str, Any]] = read_corpus(args.corpus, args.split)
    articles = [
        ArticleText(t["id"], t["text"], t.get("title") or "", parse_datetime(t.get("published") or ""))
        for t in texts
    ]  # fmt: skip
    annotations: dict[str, Annotation] = {a.id: a for a in standard_extractor().annotate(articles)}
    gold_events = [t["gold"].get("events") or [] for t in texts]
    gold = [{(e["actor"], e["action"], e["measure"]) for e in events} for events in gold_events]
    records: list[dict[Act, EventRecord]] = [
        {(e.actor, e.action, e.measure): e for e in annotations[t["id"]].events} for t in texts
    ]
    found = [set(r) for r in records]
    print(
        f"{len(texts)} texts, split {args.split}\n{'label':22s}   P      R      F1    95% interval  gold"
    )
    rows = [("all events", lambda a: True)]
    rows += [(action, lambda a, x=action: a[1] == x) for action in ACTIONS]
    rows += [(measure, lambda a, x=measure: a[2] == x) for measure in MEASURES]
    for name, keep in rows:
        counts = per_text(gold, found, keep)
        precision, recall, score = f1(counts)
        low, high = interval(counts)
        wanted = sum(c[2] for c in counts)
        print(
            f"{name:22s} {precision:.3f}  {recall:.3f}  {score:.3f}  {low:.3f}-{high:.3f}  {wanted}"
        )
    same_target = same_elements = matched = 0
    for events, chosen in zip(gold_events, records, strict=True):
        for event in events:
            record = chosen.get((event["actor"], event["action"], event["measure"]))
            if record is not None:
                matched += 1
                same_target += record.target == event.get("target")
                same_elements += set(record.elements) == set(event.get("elements") or [])
    if matched:
        print(f"matched events {matched}: same target {same_target / matched:.3f}, "
              f"same elements {same_elements / matched:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
