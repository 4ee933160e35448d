"""Extraction quality on the hand-labelled development set must not drop below pinned floors."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.annotation import ArticleText
from models.vocabulary import load_vocabulary
from pipeline.extraction import Extractor
from pipeline.flows.evaluate import DevsetReport, load_devset, score_devset

DEVSET = Path(__file__).parent / "devset" / "articles.yaml"

# Measured with `python bench/devset.py`; raise these when the extractor improves.
FLOOR = {
    "on_topic_f1": 0.95,
    "elements_f1": 0.95,
    "groups_f1": 0.95,
    "countries_f1": 0.95,
    "events_f1": 0.80,
    "event_elements_f1": 0.75,
    "event_modality_f1": 0.90,
    "event_target_f1": 0.78,
}


def _report(extractor: Extractor) -> DevsetReport:
    gold = load_devset(DEVSET)
    texts = [ArticleText(a.id, a.text, a.title, a.published, "en") for a in gold]
    return score_devset(gold, {a.id: a for a in extractor.annotate(texts)})


@pytest.fixture(scope="module")
def report(extractor: Extractor) -> DevsetReport:
    """The extractor's scores on the development set, as the shipped pipeline runs it."""
    return _report(extractor)


@pytest.mark.parametrize("figure", sorted(FLOOR))
def test_devset_floor(report: DevsetReport, figure: str) -> None:
    """Each headline figure stays at or above its floor."""
    assert report.figures()[figure] >= FLOOR[figure], "\n".join(report.lines())


def test_screening_costs_no_quality(report: DevsetReport, extractor: Extractor) -> None:
    """Reading every text in full finds nothing the cheap first pass screened out."""
    full = _report(Extractor(extractor.nlp, extractor.vocabulary, screening=False))
    for name, value in full.figures().items():
        assert report.figures()[name] >= value - 1e-9, name


def test_devset_labels_use_the_vocabularies() -> None:
    """Every labelled element, group and country exists, so a typo cannot pass as a miss."""
    vocabulary = load_vocabulary()
    elements = {element.name for element in vocabulary.elements}
    groups = {group.name for group in vocabulary.groups}
    countries = {country.code for country in vocabulary.countries}
    measures = {phrase.measure for phrase in vocabulary.measure_phrases}
    gold = load_devset(DEVSET)
    assert len(gold) >= 80
    for article in gold:
        assert article.elements <= elements, article.id
        assert article.groups <= groups, article.id
        assert article.countries <= countries, article.id
        for event in article.events:
            assert event.elements <= elements, article.id
            assert event.measure in measures, article.id
            assert {event.actor, event.target} - {None} <= countries, article.id


def test_scorer_counts_nothing_found_as_zero() -> None:
    """Nothing found scores zero recall everywhere; the floors can fail."""
    empty = score_devset(load_devset(DEVSET), {})
    assert empty.events.recall == empty.elements.recall == empty.countries.recall == 0
    assert empty.figures()["events_f1"] == 0
