"""Paired timing of the extractor against the trained pipeline's own `nlp.pipe` on the same texts.

The two alternate chunk by chunk, each going first in turn, so that a busy spell of the machine
falls on both; the ratio is that of the summed times, with the spread of the per-chunk ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from models.annotation import ArticleText
from pipeline.extraction import Extractor

CHUNK = 64  # texts per timed chunk: two batches of 32


@dataclass(frozen=True)
class Paired:
    """Words per second of both, their ratio, and the quartiles of the per-chunk ratios."""

    plain_words_per_second: float
    extractor_words_per_second: float
    ratio: float
    chunk_quartiles: tuple[float, float, float]


def paired_ratio(extractor: Extractor, texts: Sequence[str], batch_size: int = 32) -> Paired:
    """Time `nlp.pipe` and `Extractor.annotate` on the same chunks, alternately."""
    nlp = extractor.nlp
    list(nlp.pipe(texts[:16]))  # warm up both
    extractor.annotate([ArticleText(str(n), text) for n, text in enumerate(texts[:16])])
    plain_total = ours_total = 0.0
    ratios: list[float] = []
    for number, start in enumerate(range(0, len(texts), CHUNK)):
        chunk = texts[start : start + CHUNK]
        articles = [ArticleText(str(start + n), text) for n, text in enumerate(chunk)]
        timings: dict[str, float] = {}
        order = ("plain", "ours") if number % 2 == 0 else ("ours", "plain")
        for which in order:
            started = time.perf_counter()
            if which == "plain":
                for _ in nlp.pipe(chunk, batch_size=batch_size):
                    pass
            else:
                extractor.annotate(articles, batch_size=batch_size)
            timings[which] = time.perf_counter() - started
        plain_total, ours_total = plain_total + timings["plain"], ours_total + timings["ours"]
        ratios.append(timings["plain"] / timings["ours"])
    words = sum(len(text.split()) for text in texts)
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return Paired(
        words / plain_total,
        words / ours_total,
        plain_total / ours_total,
        (quartiles[0], quartiles[1], quartiles[2]),
    )
