"""Extraction quality on the development set: precision, recall and F1 per field and per label.

Usage: python bench/devset.py [--style STYLE] [--no-screening] [--misses]
Annotates tests/devset/articles.yaml with the extractor and prints the scores that
tests/test_devset.py pins; --misses lists each text's missed and spurious events.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.annotation import Annotation, ArticleText
from pipeline.extraction import Extractor, standard_extractor
from pipeline.flows.evaluate import GoldArticle, load_devset, score_devset

DEVSET = Path(__file__).resolve().parent.parent / "tests" / "devset" / "articles.yaml"


def annotate_devset(extractor: Extractor, gold: list[GoldArticle]) -> dict[str, Annotation]:
    """The extractor's annotation of every development-set text, by id."""
    texts = [ArticleText(a.id, a.text, a.title, a.published, "en") for a in gold]
    return {annotation.id: annotation for annotation in extractor.annotate(texts)}


def main() -> int:
    """Score the extractor on the development set and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", help="score only the texts of one style (cnbc, mofcom ...)")
    parser.add_argument("--no-screening", action="store_true", help="read every text in full")
    parser.add_argument("--misses", action="store_true", help="list missed and spurious events")
    args = parser.parse_args()
    gold = [a for a in load_devset(DEVSET) if args.style in (None, a.style)]
    extractor = standard_extractor(screening=not args.no_screening)
    found = annotate_devset(extractor, gold)
    print("\n".join(score_devset(gold, found).lines()))
    if args.misses:
        for article in gold:
            wanted = {event.key for event in article.events}
            got = {(e.actor, e.action, e.measure) for e in found[article.id].events}
            if wanted != got:
                print(f"{article.id}: missed {sorted(wanted - got, key=str)}")
                print(f"{' ' * len(article.id)}  spurious {sorted(got - wanted, key=str)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
