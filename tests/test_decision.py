"""The trained decision: its learner, its artifact, its setting, and training it end to end."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from models import Event, HeldCandidate, trained
from models.annotation import ArticleText
from models.errors import ConfigError, ModelNotFoundError
from models.vocabulary import load_vocabulary
from pipeline.config.settings import Settings
from pipeline.extraction import Extractor, standard_extractor
from pipeline.extraction.decision import load_decision, save_decision
from pipeline.extraction.learning import FeatureIndex, fit
from pipeline.extraction.training import _states, read_corpus
from pipeline.extraction.training import main as train_main
from pipeline.extraction.version import MAX_VERSION_CHARS
from storage.annotations import save_annotation
from storage.sessions import unit_of_work
from tests.stored import count, ready, store_annotated, two_sources

TEXT = (
    "China's Ministry of Commerce said on Tuesday it would suspend the ban on exports of gallium, "
    "germanium and antimony to the United States until November 27, 2026. The ministry also "
    "removed 17 US companies from its unreliable entity list. Beijing kept its export controls "
    "on samarium, terbium and dysprosium in place."
)


@pytest.fixture(scope="module")
def decided() -> Extractor:
    """The extractor newstrack runs, with the shipped decision."""
    return standard_extractor()


def test_fit_learns_which_feature_means_which_label() -> None:
    """A sigmoid head and a softmax head both learn a rule the data follows."""
    rows = [[0], [0, 2], [1], [1, 2]] * 5
    yes = fit(rows, np.array([[1.0], [1.0], [0.0], [0.0]] * 5), 3, ("yes",), softmax=False)
    scores = yes.scores([[0], [1]])[:, 0]
    assert scores[0] > 0.8 > 0.2 > scores[1]
    pick = fit(rows, np.array([[1.0, 0], [1, 0], [0, 1], [0, 1]] * 5), 3, ("a", "b"), softmax=True)
    assert pick.scores([[0], [1]]).argmax(axis=1).tolist() == [0, 1]
    assert np.allclose(pick.scores([[2]]).sum(axis=1), 1.0)


def test_feature_index_keeps_features_seen_often_enough() -> None:
    """Names seen once are dropped, unknown names are ignored, and each is encoded once."""
    index = FeatureIndex.fitted([["w=ban", "w=gallium"], ["w=ban", "w=tariff"], ["w=tariff"]])
    assert index.names == ("w=ban", "w=tariff")
    assert index.encode(["w=tariff", "w=ban", "w=ban", "w=unknown"]) == [0, 1]


def test_a_saved_decision_loads_to_the_same_weights_and_digest(tmp_path: Path) -> None:
    """Saving the shipped decision again writes the same digest: it names the weights exactly."""
    shipped = load_decision()
    save_decision(shipped, tmp_path)
    again = load_decision(tmp_path)
    assert again.meta["digest"] == shipped.meta["digest"] == trained.read_meta()["digest"]  # type: ignore[index]
    for ours, theirs in zip(again.heads(), shipped.heads(), strict=True):
        assert np.array_equal(ours.weights, theirs.weights) and ours.labels == theirs.labels


def test_a_missing_decision_says_how_to_make_one(tmp_path: Path) -> None:
    """No artifact is a clear error naming the folder and `make train`, not a traceback."""
    with pytest.raises(ModelNotFoundError, match="make train") as error:
        load_decision(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_the_extractor_version_names_the_decision(decided: Extractor) -> None:
    """The stored version changes with the decision and still fits its column."""
    digest = str(decided.decision.meta["digest"]) if decided.decision else ""
    assert digest and digest in decided.version
    assert len(decided.version) <= MAX_VERSION_CHARS
    rules_only = Extractor(decided.nlp, decided.vocabulary)
    assert rules_only.version != decided.version


def test_version_flag_shows_the_decision_and_its_training_data(
    in_process: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """`newstrack --version` names the decision, the texts it learnt from and its threshold."""
    meta = trained.read_meta()
    assert meta is not None
    shown = in_process("--version").stdout
    assert f"decision-{meta['digest']}" in shown
    assert str(meta["training_data"]) in shown and f"threshold {meta['threshold']}" in shown


def test_every_event_carries_the_decisions_probability(decided: Extractor) -> None:
    """Each mention's confidence is the probability the decision gave its act, at least the threshold."""
    [annotation] = decided.annotate([ArticleText("t", TEXT)])
    assert annotation.events
    assert decided.decision is not None
    for event in annotation.events:
        for mention in event.mentions:
            assert decided.decision.threshold <= mention.confidence <= 1.0


def test_the_threshold_setting_decides_how_sure_an_event_must_be(
    in_process: Callable[..., subprocess.CompletedProcess[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """NEWSTRACK_EVENT_THRESHOLD raises the bar; a value outside 0 to 1 is an error naming it."""
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps({"id": "t", "text": TEXT}) + "\n", encoding="utf-8")

    def events() -> int:
        result = in_process("annotate", str(lines))
        assert result.returncode == 0, result.stderr
        return len(json.loads(result.stdout)["events"])

    usual = events()
    monkeypatch.setenv("NEWSTRACK_EVENT_THRESHOLD", "0.99")
    assert 0 <= events() < usual
    monkeypatch.setenv("NEWSTRACK_EVENT_THRESHOLD", "1.5")
    result = in_process("annotate", str(lines))
    assert result.returncode != 0 and "NEWSTRACK_EVENT_THRESHOLD" in result.stderr
    with pytest.raises(ConfigError, match="from 0 to 1"):
        Settings.from_environment({"NEWSTRACK_EVENT_THRESHOLD": "nan"})
    assert Settings.from_environment({}).event_threshold is None


def test_evidence_is_found_in_sentences_however_they_are_spaced() -> None:
    """A parsed sentence states an event when it is, or holds, one of its evidence sentences."""
    evidence = ["China banned exports of gallium.  It did so on Monday."]
    assert _states("China banned exports\nof gallium.", evidence)
    assert not _states("Prices rose.", evidence)
    assert not _states("It did", evidence)  # too short to tell


NOT_AN_ACT = "Gallium prices rose on Monday as traders talked about the export ban."


def _labelled(number: int, outlet: str, split: str) -> dict[str, object]:
    """A small labelled text in the corpus format, written for this test."""
    acting = number % 2 == 0
    sentence = (
        "China banned exports of gallium to the United States on Monday." if acting else NOT_AN_ACT
    )
    events = (
        [{"actor": "CN", "action": "impose", "measure": "export_ban", "evidence": [sentence]}]
        if acting
        else []
    )
    return {
        "id": f"t-{number}",
        "outlet": outlet,
        "split": split,
        "title": "",
        "text": f"{sentence} Analysts said the market was calm. Germanium was also traded.",
        "gold": {"on_topic": acting, "events": events},
    }


def test_training_writes_an_artifact_that_names_its_data(tmp_path: Path) -> None:
    """`make train`'s module fits on the train split, reports dev, and saves a loadable decision."""
    corpus = tmp_path / "labelled.jsonl"
    texts = [_labelled(n, f"outlet{n % 6}.example", "train") for n in range(18)]
    texts += [_labelled(n, "other.example", "dev") for n in range(18, 22)]
    corpus.write_text("".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
    assert len(read_corpus(corpus, "train")) == 18
    reviewed = tmp_path / "reviewed.jsonl"  # more examples in the same format, as reviews export
    more = [_labelled(n, f"reviewed{n % 2}.example", "train") for n in range(22, 26)]
    reviewed.write_text("".join(json.dumps(t) + "\n" for t in more), encoding="utf-8")
    output = tmp_path / "model"
    assert train_main([str(corpus), str(reviewed), "--output", str(output)]) == 0
    decision = load_decision(output)
    assert decision.meta["training_texts"] == 22 and len(str(decision.meta["training_data"])) == 12
    extractor = standard_extractor()
    extractor.decision = decision
    [banned, prices] = extractor.annotate(
        [
            ArticleText("a", "China banned exports of gallium to the United States on Monday."),
            ArticleText("b", NOT_AN_ACT),
        ]
    )
    assert prices.status == "read"  # it names a measure and a mineral: the decision weighs it
    assert [(e.actor, e.action, e.measure) for e in banned.events] == [
        ("CN", "impose", "export_ban")
    ]
    assert prices.events == ()


def test_held_back_acts_are_stored_as_candidates_and_replaced(
    database_url: str, decided: Extractor
) -> None:
    """Acts below the threshold are rows of `candidates`, never events; reading again replaces them."""
    sessions = ready(database_url)
    source = two_sources(sessions)["first"]
    assert decided.decision is not None
    strict = replace(decided.decision, threshold=0.35)  # above some of the text's acts
    decided = Extractor(decided.nlp, load_vocabulary(), decision=strict)
    [annotation] = decided.annotate([ArticleText("u", TEXT)])
    assert annotation.events, "the text has acts above the threshold"
    assert annotation.candidates, "the text has acts below the threshold"
    article = store_annotated(sessions, "https://example.org/a", TEXT, source, annotation)
    with unit_of_work(sessions) as session:
        rows = session.execute(
            select(HeldCandidate.actor, HeldCandidate.action, HeldCandidate.measure,
                   HeldCandidate.confidence, HeldCandidate.sentence)
            .where(HeldCandidate.article_id == article)
        ).all()  # fmt: skip
        events = {(e.actor, e.action, e.measure) for e in session.scalars(select(Event))}
    assert decided.decision is not None
    assert len(rows) == sum(len(held.mentions) for held in annotation.candidates)
    assert all(row.confidence < decided.decision.threshold and row.sentence in TEXT for row in rows)
    assert events == {(e.actor, e.action, e.measure) for e in annotation.events}
    again = replace(annotation, extractor_version="newer", candidates=annotation.candidates[:1])
    with unit_of_work(sessions) as session:
        save_annotation(session, article, again)
    assert count(sessions, HeldCandidate) == len(annotation.candidates[0].mentions)
