"""Extraction quality on the snapshot must not drop below the pinned floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.evaluate import Scores, found_in_database, load_expected, score
from pipeline.jobs import unit_of_work
from storage.engine import make_session_factory, open_engine

from .conftest import FIXTURES, PROJECT

# Measured with `python bench/quality.py`; raise these when the extractor improves.
FLOOR = {
    "on_topic_accuracy": 0.95,
    "element_precision": 0.95,
    "element_recall": 0.95,
    "event_recall": 0.86,
    "event_precision": 0.41,
    "event_element_recall": 0.72,
}


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> Scores:
    """Run the job on the snapshot once and score what it stored."""
    database = f"sqlite:///{tmp_path_factory.mktemp('quality') / 'quality.db'}"
    main(["--db", database, "-q", "run", "--replay", str(PROJECT / "snapshot")])
    with open_engine(database) as engine, unit_of_work(make_session_factory(engine)) as session:
        found = found_in_database(session)
    return score(load_expected(FIXTURES / "snapshot_expected.yaml"), found)


@pytest.mark.parametrize("figure", sorted(FLOOR))
def test_quality_floor(scores: Scores, figure: str) -> None:
    """Each quality figure stays at or above its floor."""
    assert getattr(scores, figure) >= FLOOR[figure], "\n".join(scores.lines())


def test_every_snapshot_article_was_stored(scores: Scores) -> None:
    """The expectations cover the 48 snapshot articles the job stores."""
    assert scores.articles == len(load_expected(FIXTURES / "snapshot_expected.yaml")) == 48


def test_score_counts_misses(tmp_path: Path) -> None:
    """A run that finds nothing scores zero recall, so the floor can fail."""
    expected = load_expected(FIXTURES / "snapshot_expected.yaml")
    empty = score(expected, {})
    assert empty.event_recall == 0
    assert empty.element_recall == 0
