"""Analysts' reviews: kept by article URL and sentence, they hold through re-reading and regrouping."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from models import Article, Event, Mention, Review
from models.annotation import ArticleText
from models.errors import UsageError
from pipeline.cli import main
from pipeline.extraction import Extractor
from pipeline.extraction.training import read_corpus
from storage.annotations import save_annotation
from storage.consolidation import consolidate
from storage.reconsolidation import consolidate_family, families
from storage.reviews import link_value, record_review
from storage.sessions import unit_of_work
from tests.stored import store_lifecycle

GALLIUM = "China's Commerce Ministry on Friday imposed export controls on gallium."


@pytest.fixture
def lifecycle(database_url: str, extractor: Extractor) -> sessionmaker[Session]:
    """A measure's whole life in four articles, and a gallium control in a fifth."""
    return store_lifecycle(
        database_url, extractor, [("https://c.example/gallium", "2025-05-14", GALLIUM)]
    )


def _mention(session: Session, url: str, action: str | None = None) -> Mention:
    """The first mention of an article (of an action, when given)."""
    query = (
        select(Mention).join(Article, Article.id == Mention.article_id).where(Article.url == url)
    )
    if action:
        query = query.join(Event, Event.id == Mention.event_id).where(Event.action == action)
    found = session.scalars(query.order_by(Mention.id)).first()
    assert found is not None, f"no mention of {url}"
    return found


def _review(session_factory: sessionmaker[Session], url: str, field: str, after: str) -> None:
    """Review the first mention of an article as an analyst would, and consolidate."""
    with unit_of_work(session_factory) as session:
        applied = record_review(session, _mention(session, url).id, field, after, "ana")
        consolidate(session, applied.kinds, applied.touched)


def _events(session_factory: sessionmaker[Session]) -> dict[str, dict[str, Any]]:
    """Each event by the URL of its first article: kind, targets, elements, articles, review."""
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            text(
                "SELECT v.id, v.actor, v.action, v.measure, v.targets, v.elements, "
                "v.article_count, v.reviewed, min(a.url) AS url FROM v_events AS v "
                "JOIN mentions AS m ON m.event_id = v.id JOIN articles AS a ON a.id = m.article_id "
                "GROUP BY v.id, v.actor, v.action, v.measure, v.targets, v.elements, "
                "v.article_count, v.reviewed"
            )
        ).all()
    return {row.url: dict(row._mapping) for row in rows}


def _read_again(session_factory: sessionmaker[Session], extractor: Extractor) -> None:
    """Every article read again by a new extractor version, as `extract --all` does."""
    with unit_of_work(session_factory) as session:
        articles = session.execute(
            select(Article.id, Article.url, Article.text, Article.published_at)
        ).all()
    for article_id, url, body, published in articles:
        published = published.replace(tzinfo=UTC) if published.tzinfo is None else published
        [annotation] = extractor.annotate([ArticleText(url, body, "", published)])
        with unit_of_work(session_factory) as session:
            save_annotation(session, article_id, replace(annotation, extractor_version="next"))


def _regroup_everything(session_factory: sessionmaker[Session]) -> None:
    """`consolidate`: every family regrouped from its mentions."""
    with unit_of_work(session_factory) as session:
        for family in families(session):
            consolidate_family(session, family)


def test_a_corrected_target_holds_through_reading_again_and_regrouping(
    lifecycle: sessionmaker[Session], extractor: Extractor
) -> None:
    """The imposition aimed at JP, not US: the row says who, before and after; it stays JP."""
    assert _events(lifecycle)["https://a.example/imposed"]["targets"] == "US"
    _review(lifecycle, "https://a.example/imposed", "target", "jp")
    for rebuild in (
        lambda: None,
        lambda: _read_again(lifecycle, extractor),
        lambda: _regroup_everything(lifecycle),
    ):
        rebuild()
        imposed = _events(lifecycle)["https://a.example/imposed"]
        assert (imposed["targets"], imposed["reviewed"]) == ("JP", "target")
    with unit_of_work(lifecycle) as session:
        [review] = session.scalars(select(Review)).all()
        assert (review.field, review.before, review.after, review.reviewer) == (
            "target",
            "US",
            "JP",
            "ana",
        )
        assert review.article_url == "https://a.example/imposed"


def test_status_shows_the_corrected_values_and_says_they_were_reviewed(
    lifecycle: sessionmaker[Session], database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status` after a correction: the new target, and `reviewed` naming the field."""
    _review(lifecycle, "https://a.example/imposed", "target", "JP")
    capsys.readouterr()
    options = ["--on", "2025-06-01", "--element", "Dy", "--format", "json"]
    assert main(["--db", database_url, "status", *options]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["targets"], row["reviewed"]) == (["JP"], "target")


def test_a_rejected_sentence_is_no_event_whatever_reads_it(
    lifecycle: sessionmaker[Session], extractor: Extractor
) -> None:
    """The gallium sentence rejected: its event goes, and reading it again brings nothing back."""
    assert "https://c.example/gallium" in _events(lifecycle)
    _review(lifecycle, "https://c.example/gallium", "verdict", "rejected")
    assert "https://c.example/gallium" not in _events(lifecycle)
    _read_again(lifecycle, extractor)
    assert "https://c.example/gallium" not in _events(lifecycle)


def test_a_corrected_action_moves_the_sentence_to_an_event_of_that_kind(
    lifecycle: sessionmaker[Session], extractor: Extractor
) -> None:
    """The November sentence read as an extension instead: a CN extend event holds it, for good."""
    _review(lifecycle, "https://b.example/suspended", "action", "extend")
    for rebuild in (lambda: None, lambda: _read_again(lifecycle, extractor)):
        rebuild()
        moved = _events(lifecycle)["https://b.example/suspended"]
        assert (moved["action"], moved["measure"], moved["reviewed"]) == (
            "extend",
            "export_control",
            "action",
        )
        assert not [e for e in _events(lifecycle).values() if e["action"] == "suspend"]


def test_a_merge_and_a_confirmation_hold_through_regrouping(
    lifecycle: sessionmaker[Session], extractor: Extractor
) -> None:
    """Gallium's control put with the April controls: one event, regrouped or read again."""
    with unit_of_work(lifecycle) as session:
        anchor = _mention(session, "https://a.example/imposed")
        key = link_value("https://a.example/imposed", anchor.sentence)
    assert (
        _events(lifecycle)["https://c.example/gallium"]["id"]
        != _events(lifecycle)["https://a.example/imposed"]["id"]
    )
    _review(lifecycle, "https://c.example/gallium", "event", key)
    _review(lifecycle, "https://a.example/imposed", "verdict", "confirmed")
    for rebuild in (
        lambda: None,
        lambda: _regroup_everything(lifecycle),
        lambda: _read_again(lifecycle, extractor),
    ):
        rebuild()
        events = _events(lifecycle)
        merged = [e for e in events.values() if e["action"] == "impose"]
        assert len(merged) == 1, merged
        assert "gallium" in merged[0]["elements"] and "dysprosium" in merged[0]["elements"]
        assert merged[0]["reviewed"] == "confirmed,event"


@pytest.mark.parametrize(
    ("field", "after", "message"),
    [
        ("verdict", "maybe", "verdict 'maybe'"),
        ("action", "embargo", "action 'embargo'"),
        ("measure", "sanction", "measure 'sanction'"),
        ("effective_on", "soon", "not a date"),
        ("colour", "red", "cannot review 'colour'"),
    ],
)
def test_a_review_that_names_no_value_is_refused_and_nothing_is_kept(
    lifecycle: sessionmaker[Session], field: str, after: str, message: str
) -> None:
    """A bad field or value is a usage error naming it; no review row is written."""
    with pytest.raises(UsageError, match=message), unit_of_work(lifecycle) as session:
        record_review(
            session, _mention(session, "https://a.example/imposed").id, field, after, "ana"
        )
    with unit_of_work(lifecycle) as session:
        assert session.scalars(select(Review)).all() == []


def test_review_export_writes_labelled_examples_training_reads(
    lifecycle: sessionmaker[Session],
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`review export`: each reviewed article once, its reviewed events with their evidence and
    corrections, none of the rejected; training takes the file beside a corpus."""
    _review(lifecycle, "https://a.example/imposed", "target", "JP")
    _review(lifecycle, "https://c.example/gallium", "verdict", "rejected")
    out = tmp_path / "reviewed.jsonl"
    assert main(["--db", database_url, "review", "export", "--out", str(out)]) == 0
    assert "wrote 2 reviewed article(s) with 1 event(s)" in capsys.readouterr().out
    examples = {e["url"]: e for e in map(json.loads, out.read_text().splitlines())}
    assert set(examples) == {"https://a.example/imposed", "https://c.example/gallium"}
    imposed = examples["https://a.example/imposed"]
    [event] = imposed["gold"]["events"]
    assert (event["actor"], event["action"], event["measure"], event["target"]) == (
        "CN",
        "impose",
        "export_control",
        "JP",
    )
    assert event["evidence"] == [imposed["text"]] and "dysprosium" in event["elements"]
    assert examples["https://c.example/gallium"]["gold"] == {"on_topic": False, "events": []}
    assert imposed["split"] == "train" and imposed["id"].startswith("review-")
    assert len(read_corpus(out, "train")) == 2
    capsys.readouterr()
    assert main(["--db", database_url, "review", "export"]) == 0  # to standard output
    assert capsys.readouterr().out == out.read_text()
