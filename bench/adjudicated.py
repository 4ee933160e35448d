"""How much our adjudications of the labelled corpus move the scores: the corpus as labelled, then
with docs/adjudications.csv applied, each scored by the corpus's own scorer.

Usage: python bench/adjudicated.py [--split dev|train|all] [--corpus PATH]
Each adjudication row is (id, field, old, new, why): `events` with an empty old adds the event
"actor/action/measure" in new; `events[N].FIELD` replaces that field of the text's N-th event.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ADJUDICATIONS = ROOT / "docs" / "adjudications.csv"
FIELD = "events["


def adjudicated(texts: list[dict[str, object]], rows: list[dict[str, str]]) -> int:
    """Apply the rows to the texts in place; return how many applied."""
    by_id = {str(text["id"]): text for text in texts}
    applied = 0
    for row in rows:
        gold = by_id[row["id"]]["gold"]
        assert isinstance(gold, dict)
        events = gold.setdefault("events", [])
        if row["field"] == "events" and not row["old"]:
            actor, action, measure = row["new"].split("/")
            events.append({"actor": actor, "action": action, "measure": measure, "evidence": []})
        elif row["field"].startswith(FIELD):
            number, name = row["field"][len(FIELD) :].split("].")
            value = row["new"]
            events[int(number)][name] = None if value == "null" else _literal(value)
        else:
            sys.exit(f"{ADJUDICATIONS.name}: {row['id']}: cannot apply field {row['field']!r}")
        applied += 1
    return applied


def _literal(value: str) -> object:
    """A list or a plain word, as the file writes it."""
    return ast.literal_eval(value) if value.startswith("[") else value


def score(corpus: Path, split: str) -> str:
    """The scorer's machine-readable last line for `newstrack annotate` on a corpus file."""
    command = [sys.executable, str(SHARED / "tools" / "score_corpus.py"), "--split", split,
               "--corpus", str(corpus), "--", sys.executable, "-m", "pipeline.cli", "annotate"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    return result.stdout.strip().splitlines()[-1]


def main() -> int:
    """Score the corpus as labelled and as adjudicated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", help="dev (default), train or all")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus" / "labelled.jsonl")
    args = parser.parse_args()
    lines = args.corpus.read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line) for line in lines if line.strip()]
    with ADJUDICATIONS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    applied = adjudicated(texts, rows)
    print(f"as labelled:  {score(args.corpus, args.split)}")
    with tempfile.TemporaryDirectory() as folder:
        changed = Path(folder) / "labelled.jsonl"
        changed.write_text("".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
        print(f"adjudicated ({applied} rows): {score(changed, args.split)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
