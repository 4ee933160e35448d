"""Logistic regression over named binary features: fitted with numpy, stored as plain arrays."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Features = Sequence[str]


@dataclass
class Linear:
    """Weights of one head: a row per feature, a column per label; sigmoid or softmax on top."""

    labels: tuple[str, ...]
    weights: NDArray[np.float32]  # (features + 1 bias row, labels)
    softmax: bool

    def scores(self, rows: Sequence[Sequence[int]]) -> NDArray[np.float64]:
        """Probabilities per row of feature indexes: one column per label."""
        indexes, owners = _flatten(rows)
        logits = np.zeros((len(rows), len(self.labels)))
        np.add.at(logits, owners, self.weights[indexes])
        logits += self.weights[-1]
        return _activate(logits, self.softmax)


class FeatureIndex:
    """Feature names to row numbers; names not seen in training are dropped."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        self.rows = {name: row for row, name in enumerate(self.names)}

    @classmethod
    def fitted(cls, examples: Iterable[Features], min_count: int = 2) -> FeatureIndex:
        """The features seen at least `min_count` times, in a stable order."""
        counts = Counter(name for features in examples for name in set(features))
        return cls(sorted(name for name, count in counts.items() if count >= min_count))

    def encode(self, features: Features) -> list[int]:
        """Row numbers of the known features, each once."""
        return sorted({self.rows[name] for name in features if name in self.rows})


def fit(
    rows: Sequence[Sequence[int]],
    targets: NDArray[np.float64],
    size: int,
    labels: Sequence[str],
    softmax: bool,
    l2: float = 1e-3,
    steps: int = 300,
    rate: float = 0.1,
) -> Linear:
    """Fit weights by full-batch Adam on log-loss with an L2 penalty; deterministic."""
    indexes, owners = _flatten(rows)
    weights = np.zeros((size + 1, len(labels)))
    first, second = np.zeros_like(weights), np.zeros_like(weights)
    count = max(len(rows), 1)
    for step in range(1, steps + 1):
        logits = np.zeros((len(rows), len(labels)))
        np.add.at(logits, owners, weights[indexes])
        logits += weights[size]
        error = (_activate(logits, softmax) - targets) / count
        gradient = np.zeros_like(weights)
        np.add.at(gradient, indexes, error[owners])
        gradient[:size] += l2 * weights[:size]
        gradient[size] = error.sum(axis=0)
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient**2
        weights -= rate * (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
    return Linear(tuple(labels), weights.astype(np.float32), softmax)


def _flatten(rows: Sequence[Sequence[int]]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """All feature indexes in one array, with the row each came from."""
    lengths = [len(row) for row in rows]
    indexes = np.fromiter((i for row in rows for i in row), dtype=np.intp, count=sum(lengths))
    owners = np.repeat(np.arange(len(rows), dtype=np.intp), lengths)
    return indexes, owners


def _activate(logits: NDArray[np.float64], softmax: bool) -> NDArray[np.float64]:
    """Sigmoid per column, or softmax across columns."""
    if softmax:
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        normalised: NDArray[np.float64] = shifted / shifted.sum(axis=1, keepdims=True)
        return normalised
    squashed: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    return squashed
