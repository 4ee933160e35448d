"""The trained decision: per sentence, which measures it states an act on, which act, and who acts."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models import trained
from models.annotation import EventRecord
from models.errors import ModelNotFoundError
from models.vocabulary import ACTIONS, MEASURES
from pipeline.extraction.features import (
    SentenceView,
    action_features,
    actor_options,
    event_features,
    sentence_features,
)
from pipeline.extraction.learning import FeatureIndex, Linear

HEADS = ("measure", "action", "actor", "event")
SENTENCE_FLOOR = 0.05  # a sentence's read below this is not worth a text-level look
Act = tuple[str | None, str, str]  # actor, action, measure: what the corpus compares


@dataclass(frozen=True)
class Choice:
    """One act the model reads in a sentence, with how sure it is."""

    sentence: int
    measure: str
    action: str
    actor: str | None
    confidence: float


@dataclass(frozen=True)
class Verdict:
    """One act of a text as the decision settles it: how likely it is an event, and its readings."""

    act: Act
    probability: float
    choices: tuple[Choice, ...]
    rules: tuple[EventRecord, ...]


@dataclass
class SentenceHeads:
    """Three heads that read sentences: which measures a sentence states an act on, which act, and
    who acts; all over one index of feature names."""

    features: FeatureIndex
    measure: Linear
    action: Linear
    actor: Linear

    def choices(
        self, views: Sequence[SentenceView], default_actor: str | None, counts: Counter[str]
    ) -> list[Choice]:
        """Every act the heads read with confidence at least SENTENCE_FLOOR."""
        read = [number for number, view in enumerate(views) if view.in_scope]
        if not read:
            return []
        rows = {number: sentence_features(views[number]) for number in read}
        measure_scores = self.measure.scores([self.features.encode(rows[n]) for n in read])
        picks = [
            (read[row], self.measure.labels[int(column)], float(measure_scores[row, column]))
            for row, column in np.argwhere(measure_scores >= SENTENCE_FLOOR)
        ]
        if not picks:
            return []
        action_scores = self.action.scores(
            [
                self.features.encode(action_features(rows[index], views[index], measure))
                for index, measure, _ in picks
            ]
        )
        kept = []
        for (index, measure, measure_score), scores in zip(picks, action_scores, strict=True):
            best = int(scores.argmax())
            confidence = measure_score * float(scores[best])
            if confidence >= SENTENCE_FLOOR:
                kept.append((index, measure, self.action.labels[best], confidence))
        actors = self._actors(
            [actor_options(views[i], measure, default_actor, counts) for i, measure, _, _ in kept]
        )
        return [
            Choice(index, measure, action, actor, confidence)
            for (index, measure, action, confidence), actor in zip(kept, actors, strict=True)
        ]

    def _actors(self, options: Sequence[dict[str, list[str]]]) -> list[str | None]:
        """For each pick, the country most likely to act among those in sight, scored at once."""
        rows = [self.features.encode(features) for found in options for features in found.values()]
        scores = self.actor.scores(rows)[:, 0] if rows else np.zeros(0)
        chosen: list[str | None] = []
        start = 0
        for found in options:
            codes = list(found)
            best = int(scores[start : start + len(codes)].argmax()) if codes else -1
            chosen.append(codes[best] if codes else None)
            start += len(codes)
        return chosen


@dataclass(frozen=True)
class Candidacy:
    """The acts of one text with what the sentence heads and the rules read of each."""

    acts: list[Act]
    choices: dict[Act, list[Choice]]
    rules: dict[Act, list[EventRecord]]
    features: list[list[str]]


def candidacy(
    choices: Sequence[Choice], rules: Sequence[EventRecord], default_actor: str | None
) -> Candidacy:
    """Every act the sentence heads or the rules read in a text, with the features of each."""
    by_choice: dict[Act, list[Choice]] = {}
    for choice in choices:
        by_choice.setdefault((choice.actor, choice.action, choice.measure), []).append(choice)
    by_rule: dict[Act, list[EventRecord]] = {}
    for record in rules:
        by_rule.setdefault((record.actor, record.action, record.measure), []).append(record)
    acts = list(dict.fromkeys([*by_choice, *by_rule]))
    features = [
        event_features(
            act,
            [c.confidence for c in by_choice.get(act, [])],
            by_rule.get(act, []),
            (other for other in acts if other != act),
            default_actor,
        )
        for act in acts
    ]
    return Candidacy(acts, by_choice, by_rule, features)


@dataclass
class Decision:
    """The sentence heads, the event head that weighs each act of a text on what the sentence heads
    and the rules read of it, and the probability an act needs to be an event."""

    sentences: SentenceHeads
    event_features: FeatureIndex
    event: Linear
    threshold: float
    meta: dict[str, Any]

    def heads(self) -> tuple[Linear, Linear, Linear, Linear]:
        """The four heads in the order of HEADS."""
        heads = self.sentences
        return heads.measure, heads.action, heads.actor, self.event

    @property
    def version(self) -> str:
        """Short name of the trained artifact: its name and a digest of its weights and features."""
        return f"{trained.NAME}-{self.meta['digest']}"

    def verdicts(
        self,
        views: Sequence[SentenceView],
        default_actor: str | None,
        counts: Counter[str],
        rules: Sequence[EventRecord],
    ) -> list[Verdict]:
        """Every act the sentence heads or the rules read in a text, with its probability."""
        found = candidacy(
            self.sentences.choices(views, default_actor, counts), rules, default_actor
        )
        if not found.acts:
            return []
        rows = [self.event_features.encode(features) for features in found.features]
        probabilities = self.event.scores(rows)[:, 0]
        return [
            Verdict(
                act, float(p), tuple(found.choices.get(act, ())), tuple(found.rules.get(act, ()))
            )
            for act, p in zip(found.acts, probabilities, strict=True)
        ]


def load_decision(directory: Path = trained.DIRECTORY, threshold: float | None = None) -> Decision:
    """The trained decision shipped under models/trained, or a clear error naming what is missing."""
    meta_path, weights_path = directory / trained.META.name, directory / trained.WEIGHTS.name
    if not meta_path.is_file() or not weights_path.is_file():
        raise ModelNotFoundError(
            f"no trained decision in {directory} (looked for {meta_path.name} and "
            f"{weights_path.name}): run `make train`"
        )
    meta = trained.read_meta(directory)
    if meta is None:
        raise ModelNotFoundError(f"{meta_path} cannot be read: run `make train`")
    with np.load(weights_path, allow_pickle=False) as stored:
        names = [str(name) for name in stored["features"]]
        event_names = [str(name) for name in stored["event_features"]]
        heads = {
            head: Linear(tuple(meta["labels"][head]), stored[head], head == "action")
            for head in HEADS
        }
    return Decision(
        sentences=SentenceHeads(
            FeatureIndex(names), heads["measure"], heads["action"], heads["actor"]
        ),
        event_features=FeatureIndex(event_names),
        event=heads["event"],
        threshold=float(meta["threshold"] if threshold is None else threshold),
        meta=meta,
    )


def save_decision(decision: Decision, directory: Path = trained.DIRECTORY) -> None:
    """Write the weights and their description; the digest names exactly these bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, NDArray[Any]] = {}
    heads = dict(zip(HEADS, decision.heads(), strict=True))
    for head, linear in heads.items():
        arrays[head] = linear.weights
    arrays["features"] = np.array(decision.sentences.features.names, dtype=str)
    arrays["event_features"] = np.array(decision.event_features.names, dtype=str)
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode() + np.ascontiguousarray(arrays[name]).tobytes())
    decision.meta["digest"] = digest.hexdigest()[:8]
    decision.meta["threshold"] = decision.threshold
    decision.meta["labels"] = {head: list(linear.labels) for head, linear in heads.items()}
    np.savez_compressed(directory / trained.WEIGHTS.name, **arrays)  # type: ignore[arg-type]
    (directory / trained.META.name).write_text(
        json.dumps(decision.meta, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


def settle(record: EventRecord, choice: Choice, probability: float) -> EventRecord:
    """A rule record made to say what the model chose, with the decision's confidence."""
    target = record.target if record.target != choice.actor else None
    modality = record.mentions[0].modality
    if choice.action == "threaten":
        modality = "threatened"
    elif modality in ("threatened", "negated", "hypothetical"):
        modality = "asserted"
    mention = replace(record.mentions[0], modality=modality)
    return confident(
        replace(
            record,
            actor=choice.actor,
            actor_body=record.actor_body if record.actor == choice.actor else None,
            action=choice.action,
            measure=choice.measure,
            target=target,
            target_count=record.target_count if target else None,
            target_unit=record.target_unit if target else None,
            mentions=(mention,),
        ),
        probability,
    )


def confident(record: EventRecord, probability: float) -> EventRecord:
    """A record whose every mention carries the decision's probability as its confidence."""
    mentions = tuple(replace(m, confidence=round(probability, 2)) for m in record.mentions)
    return replace(record, mentions=mentions)


def label_arrays(labels: Sequence[str], rows: Sequence[Sequence[str]]) -> NDArray[np.float64]:
    """A 0/1 matrix of which labels each example has."""
    index = {label: column for column, label in enumerate(labels)}
    matrix = np.zeros((len(rows), len(labels)))
    for row, names in enumerate(rows):
        for name in names:
            matrix[row, index[name]] = 1.0
    return matrix


MEASURE_LABELS = tuple(MEASURES)
ACTION_LABELS = tuple(ACTIONS)
