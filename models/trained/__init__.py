"""The trained event decision shipped with newstrack: where it lives and what it says of itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).resolve().parent
NAME = "decision"
META = DIRECTORY / f"{NAME}.json"
WEIGHTS = DIRECTORY / f"{NAME}.npz"


def read_meta(directory: Path = DIRECTORY) -> dict[str, Any] | None:
    """The description of a trained decision, or None when there is none to read."""
    try:
        meta = json.loads((directory / META.name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def summary(directory: Path = DIRECTORY) -> str:
    """The shipped decision's name and what it learnt from, as `--version` shows it."""
    meta = read_meta(directory)
    if meta is None:
        return "no trained decision (run `make train`)"
    return (
        f"{NAME}-{meta.get('digest')}, trained on {meta.get('training_texts')} texts "
        f"(data {meta.get('training_data')}), threshold {meta.get('threshold')}"
    )
