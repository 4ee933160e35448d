"""Training the decision on a labelled corpus: `python -m pipeline.extraction.training CORPUS`."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from models import trained
from models.annotation import ArticleText, EventRecord
from models.vocabulary import load_vocabulary
from pipeline.extraction import Extractor
from pipeline.extraction.decision import (
    ACTION_LABELS,
    MEASURE_LABELS,
    Act,
    Candidacy,
    Decision,
    SentenceHeads,
    candidacy,
    label_arrays,
    save_decision,
)
from pipeline.extraction.events import DecisionInput, decision_input
from pipeline.extraction.features import (
    SentenceView,
    action_features,
    actor_options,
    sentence_features,
)
from pipeline.extraction.learning import FeatureIndex, Linear, fit
from pipeline.extraction.nlp import load_pipeline
from pipeline.extraction.screening import Reading, screen

SEED = 20261206
FOLDS = 5
L2 = 3e-3  # the sentence heads' penalty, chosen on cross-validation (1e-3 to 1e-2 tried)
EVENT_L2 = 1e-2
THRESHOLDS = tuple(round(0.05 * step, 2) for step in range(2, 17))


@dataclass
class Text:
    """A labelled text as the decision reads it: its sentences and the gold acts in each."""

    id: str
    group: str  # the outlet: folds never split one
    views: list[SentenceView]
    default_actor: str | None
    counts: Counter[str]
    gold: set[Act]
    sentence_gold: list[list[dict[str, str | None]]]
    rules: list[EventRecord] = field(default_factory=list)


def read_corpus(path: Path, split: str) -> list[dict[str, object]]:
    """The labelled texts of one split (or all)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line) for line in lines if line.strip()]
    return [t for t in texts if split == "all" or t["split"] == split]


def read_texts(extractor: Extractor, records: Sequence[dict[str, object]]) -> list[Text]:
    """Parse each labelled text as the extractor would and line up its gold events by sentence."""
    found = []
    for record, read in zip(records, _readings(extractor, records), strict=True):
        gold = record["gold"]
        assert isinstance(gold, dict)
        events = gold.get("events") or []
        per_sentence = [
            [e for e in events if _states(view.sentence.text, e["evidence"])] for view in read.views
        ]
        found.append(
            Text(
                id=str(record["id"]),
                group=str(record.get("outlet") or record["id"]),
                views=read.views,
                default_actor=read.default_actor,
                counts=read.counts,
                gold={(e["actor"], e["action"], e["measure"]) for e in events},
                sentence_gold=per_sentence,
                rules=read.rules,
            )
        )
    return found


def _readings(
    extractor: Extractor, records: Sequence[dict[str, object]]
) -> Iterator[DecisionInput]:
    """What the decision weighs in each text; a text the screen stops has nothing, as at run time."""
    for record in records:
        article = ArticleText(
            id=str(record["id"]), text=str(record["text"]), title=str(record.get("title") or "")
        )
        reading = screen(article, extractor.tagger, extractor.version)
        if not isinstance(reading, Reading):
            yield DecisionInput([], None, Counter(), [])
            continue
        yield decision_input(extractor.parsed_text(article, extractor.nlp(reading.doc), reading))


def _states(sentence: str, evidence: Sequence[str]) -> bool:
    """Whether a parsed sentence is (part of) one of an event's evidence sentences."""
    text = " ".join(sentence.split())
    if len(text) < 12:
        return False
    for quote in evidence:
        quoted = " ".join(quote.split())
        if text in quoted or quoted in text:
            return True
    return False


def train_sentence_heads(texts: Sequence[Text], l2: float = L2) -> SentenceHeads:
    """Fit the measure, action and actor heads on the sentences of `texts`."""
    sentence_rows: list[list[str]] = []
    measure_labels: list[list[str]] = []
    action_rows: list[list[str]] = []
    action_labels: list[list[str]] = []
    actor_rows: list[list[str]] = []
    actor_labels: list[list[str]] = []
    for text in texts:
        for view, gold in zip(text.views, text.sentence_gold, strict=True):
            if not view.in_scope:
                continue
            features = sentence_features(view)
            sentence_rows.append(features)
            measures = sorted({str(e["measure"]) for e in gold})
            measure_labels.append(measures)
            for measure in measures:
                same = [e for e in gold if e["measure"] == measure]
                action_rows.append(action_features(features, view, measure))
                action_labels.append(sorted({str(e["action"]) for e in same}))
                options = actor_options(view, measure, text.default_actor, text.counts)
                actors = {e["actor"] for e in same}
                if actors & set(options):
                    for code, reasons in options.items():
                        actor_rows.append(reasons)
                        actor_labels.append(["yes"] if code in actors else [])
    index = FeatureIndex.fitted([*sentence_rows, *action_rows, *actor_rows])
    size = len(index.names)
    action_targets = label_arrays(ACTION_LABELS, action_labels)
    action_targets /= np.maximum(action_targets.sum(axis=1, keepdims=True), 1)  # shared credit

    def head(
        rows: list[list[str]], targets: NDArray[np.float64], labels: Sequence[str], softmax: bool
    ) -> Linear:
        return fit([index.encode(r) for r in rows], targets, size, labels, softmax=softmax, l2=l2)

    return SentenceHeads(
        features=index,
        measure=head(
            sentence_rows, label_arrays(MEASURE_LABELS, measure_labels), MEASURE_LABELS, False
        ),
        action=head(action_rows, action_targets, ACTION_LABELS, True),
        actor=head(actor_rows, label_arrays(("yes",), actor_labels), ("yes",), False),
    )


def folds_by_outlet(texts: Sequence[Text], folds: int = FOLDS) -> list[int]:
    """A fold number per text, drawn by outlet so no outlet is on both sides of a split."""
    groups = sorted({text.group for text in texts})
    random.Random(SEED).shuffle(groups)
    fold_of = {group: number % folds for number, group in enumerate(groups)}
    return [fold_of[text.group] for text in texts]


def out_of_fold(texts: Sequence[Text], fold_of: Sequence[int]) -> list[Candidacy]:
    """Each text's acts as sentence heads read them that never saw the text's outlet."""
    found: list[Candidacy | None] = [None] * len(texts)
    for fold in sorted(set(fold_of)):
        heads = train_sentence_heads([t for t, f in zip(texts, fold_of, strict=True) if f != fold])
        for number, (text, text_fold) in enumerate(zip(texts, fold_of, strict=True)):
            if text_fold == fold:
                choices = heads.choices(text.views, text.default_actor, text.counts)
                found[number] = candidacy(choices, text.rules, text.default_actor)
    return [c for c in found if c is not None]


def fit_event_head(
    texts: Sequence[Text], candidacies: Sequence[Candidacy]
) -> tuple[FeatureIndex, Linear]:
    """The head that weighs each act of a text; an act is an event when the text's gold has it."""
    rows = [features for c in candidacies for features in c.features]
    labels = [
        ["yes"] if act in text.gold else []
        for text, c in zip(texts, candidacies, strict=True)
        for act in c.acts
    ]
    index = FeatureIndex.fitted(rows, min_count=1)
    head = fit(
        [index.encode(r) for r in rows],
        label_arrays(("yes",), labels),
        len(index.names),
        ("yes",),
        softmax=False,
        l2=EVENT_L2,
    )
    return index, head


def scored_acts(
    index: FeatureIndex, head: Linear, candidacies: Sequence[Candidacy]
) -> list[list[tuple[Act, float]]]:
    """Each text's acts with the event head's probability."""
    found: list[list[tuple[Act, float]]] = []
    for c in candidacies:
        if not c.acts:
            found.append([])
            continue
        probabilities = head.scores([index.encode(f) for f in c.features])[:, 0]
        found.append([(act, float(p)) for act, p in zip(c.acts, probabilities, strict=True)])
    return found


def train(texts: Sequence[Text]) -> tuple[Decision, dict[str, float]]:
    """The whole decision, and its cross-validated scores on `texts` at the threshold it chose.

    The event head learns from acts the sentence heads read out of fold, as they will read new
    text; its threshold is the one with the best F1 when it, too, is scored out of fold.
    """
    fold_of = folds_by_outlet(texts)
    candidacies = out_of_fold(texts, fold_of)
    held_out: list[list[tuple[Act, float]]] = [[] for _ in texts]
    for fold in sorted(set(fold_of)):
        inside = [n for n, f in enumerate(fold_of) if f != fold]
        index, head = fit_event_head([texts[n] for n in inside], [candidacies[n] for n in inside])
        outside = [n for n, f in enumerate(fold_of) if f == fold]
        scored = scored_acts(index, head, [candidacies[n] for n in outside])
        for n, acts in zip(outside, scored, strict=True):
            held_out[n] = acts
    pairs = [(text.gold, acts) for text, acts in zip(texts, held_out, strict=True)]
    threshold = max(THRESHOLDS, key=lambda t: scores(pairs, t)["f1"])
    index, head = fit_event_head(texts, candidacies)
    decision = Decision(train_sentence_heads(texts), index, head, threshold, meta={})
    return decision, dict(scores(pairs, threshold), threshold=threshold)


def predicted(decision: Decision, text: Text) -> list[tuple[Act, float]]:
    """Each act the decision weighs in a text, with its probability."""
    verdicts = decision.verdicts(text.views, text.default_actor, text.counts, text.rules)
    return [(verdict.act, verdict.probability) for verdict in verdicts]


def scores(
    pairs: Sequence[tuple[set[Act], list[tuple[Act, float]]]], threshold: float
) -> dict[str, float]:
    """Precision, recall and F1 of (actor, action, measure) sets per text at a threshold."""
    hits = guessed = wanted = 0
    for gold, found in pairs:
        chosen = {act for act, probability in found if probability >= threshold}
        hits, guessed, wanted = hits + len(gold & chosen), guessed + len(chosen), wanted + len(gold)
    precision = hits / guessed if guessed else 0.0
    recall = hits / wanted if wanted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def data_digest(records: Sequence[dict[str, object]]) -> str:
    """A digest of the training texts and labels, so an artifact names what it learnt from."""
    digest = hashlib.sha256()
    for record in sorted(records, key=lambda r: str(r["id"])):
        digest.update(
            json.dumps([record["id"], record["text"], record["gold"]], sort_keys=True).encode()
        )
    return digest.hexdigest()[:12]


def main(argv: Sequence[str] | None = None) -> int:
    """Train on the train split, choose the threshold by cross-validation, save, report dev."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "corpus",
        type=Path,
        nargs="+",
        help="labelled.jsonl of the corpus, and any more in its format (`newstrack review export`)",
    )
    parser.add_argument("--output", type=Path, default=trained.DIRECTORY)
    parser.add_argument(
        "--fraction", type=float, default=1.0, help="share of the train texts to learn from"
    )
    parser.add_argument("--no-save", action="store_true", help="report only, write nothing")
    args = parser.parse_args(argv)
    extractor = Extractor(load_pipeline(), load_vocabulary())
    records = [record for path in args.corpus for record in read_corpus(path, "train")]
    if args.fraction < 1.0:
        records = random.Random(SEED).sample(records, round(len(records) * args.fraction))
    texts = read_texts(extractor, records)
    decision, cv = train(texts)
    dev = read_texts(extractor, [r for path in args.corpus for r in read_corpus(path, "dev")])
    on_dev = scores([(t.gold, predicted(decision, t)) for t in dev], decision.threshold)
    decision.meta.update(
        training_data=data_digest(records),
        training_texts=len(records),
        seed=SEED,
        cross_validated=cv,
    )
    print(
        f"train texts {len(records)}, sentence features {len(decision.sentences.features.names)}, "
        f"threshold {decision.threshold}\n"
        f"cross-validated on train: P={cv['precision']:.3f} R={cv['recall']:.3f} F1={cv['f1']:.3f}\n"
        f"dev: P={on_dev['precision']:.3f} R={on_dev['recall']:.3f} F1={on_dev['f1']:.3f}"
    )
    if not args.no_save:
        save_decision(decision, args.output)
        print(f"saved {args.output}/ ({decision.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
