"""Generic text extraction on the snapshot's recorded pages, scored against the per-source selectors.

Usage: python bench/pages.py
For each recorded article page, the text read with the source's CSS selectors is the reference;
the text read without selectors (trafilatura, then the paragraph reader) is scored by word-level F1.
"""

from __future__ import annotations

import re
import statistics
import sys
from collections import Counter
from pathlib import Path

import yaml

from models.source import ArticleSelectors
from pipeline.config.sources import load_sources, selectors_for
from pipeline.fetching.pages import extract_page

ROOT = Path(__file__).resolve().parent.parent


def word_f1(found: str, reference: str) -> float:
    """Bag-of-words F1 of a text against a reference."""
    ours, theirs = (
        Counter(re.findall(r"\w+", found.lower())),
        Counter(re.findall(r"\w+", reference.lower())),
    )
    common = sum((ours & theirs).values())
    if not common:
        return 0.0
    precision, recall = common / sum(ours.values()), common / sum(theirs.values())
    return 2 * precision * recall / (precision + recall)


def main() -> int:
    """Score every recorded article page and print the figures."""
    snapshot = ROOT / "snapshot"
    manifest = yaml.safe_load((snapshot / "manifest.yaml").read_text(encoding="utf-8"))
    sources = load_sources(ROOT / "sources.yaml")
    scores: list[tuple[float, str, str]] = []
    for response in manifest["responses"]:
        selectors = selectors_for(sources, response["url"])
        if response.get("status", 200) != 200 or selectors.text is None:
            continue
        if "/index" in response["file"] or not response["file"].endswith(".html"):
            continue  # feeds and listing pages are not articles
        body = (snapshot / response["file"]).read_bytes()
        headers = {"content-type": response.get("content_type", "")}
        reference = extract_page(body, response["url"], selectors, headers).text
        generic = extract_page(body, response["url"], ArticleSelectors(), headers)
        scores.append((word_f1(generic.text, reference), generic.text_extractor, response["url"]))
    values = [score for score, _, _ in scores]
    print(f"pages: {len(scores)}")
    print(
        f"generic extraction word F1 against selectors: mean {statistics.mean(values):.3f}, min {min(values):.3f}"
    )
    print(
        "extractors used: "
        + ", ".join(f"{name} {count}" for name, count in Counter(e for _, e, _ in scores).items())
    )
    worst = min(scores)
    print(f"worst page: {worst[2]} ({worst[0]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
