"""The language classifier's model: py3langid's, mapped from an uncompressed copy made at install.

py3langid ships its model as 4.5 MB of LZMA holding 68 MB of arrays: opening it costs most of a
second of CPU in every process that reads a text. `python -m pipeline.text.langid_model` (run by
deploy/install-venv) writes the arrays once, uncompressed, under the environment's share/ folder,
in a folder named by the packed file's digest; a process then maps them instead. Without that
copy, or with one cut short or damaged, the model is read as py3langid reads it.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import tempfile
from array import array
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
from py3langid.modelio import load_model

log = logging.getLogger("newstrack")
UNPACKED_ROOT = Path(sys.prefix) / "share" / "newstrack" / "langid"
COMPLETE = "complete"  # written last: a folder without it was cut short
DIGEST_CHARS = 16
if TYPE_CHECKING:  # stdlib arrays take a type argument only from Python 3.12 on
    Arrays = tuple[np.ndarray, np.ndarray, list[str], array[int], array[int], list[int]]


def packed_model() -> Path:
    """The model file inside the installed py3langid package."""
    return Path(MODEL_DIR) / str(MODEL_FILE)


def unpacked_folder(root: Path = UNPACKED_ROOT) -> Path:
    """Where the copy of the installed model is: a folder named by the packed file's digest."""
    digest = hashlib.sha256(packed_model().read_bytes()).hexdigest()
    return root / digest[:DIGEST_CHARS]


def load_identifier(root: Path = UNPACKED_ROOT) -> LanguageIdentifier:
    """The classifier (probabilities normalised), from the copy when there is one, else packed."""
    folder = unpacked_folder(root)
    arrays = None
    if (folder / COMPLETE).is_file():
        try:
            arrays = _mapped(folder)
        except (OSError, ValueError) as error:
            log.warning(
                "language model copy %s not read (%s): opening the packed one", folder, error
            )
    ptc, pc, classes, nextmove, row, output = arrays or load_model(packed_model())
    return LanguageIdentifier(
        np.asarray(ptc), np.asarray(pc), classes, nextmove, output, norm_probs=True, tk_row=row
    )


def unpack(root: Path = UNPACKED_ROOT) -> Path:
    """Write the model's arrays uncompressed under `root`, unless they are there; return where.

    They are written in a scratch folder and renamed into place, so a reader never sees half.
    """
    folder = unpacked_folder(root)
    if (folder / COMPLETE).is_file():
        return folder
    ptc, pc, classes, nextmove, row, output = load_model(packed_model())
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=root))
    try:
        for name, values in (
            ("ptc", ptc),
            ("pc", pc),
            ("classes", np.asarray(classes)),
            ("nextmove", np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}")),
            ("row", np.frombuffer(row, dtype=f"u{row.itemsize}")),
            ("output", np.asarray(output, dtype=np.int32)),
        ):
            np.save(scratch / f"{name}.npy", values, allow_pickle=False)
        (scratch / COMPLETE).write_text(packed_model().name + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # a copy cut short, if any
        try:
            scratch.rename(folder)
        except OSError:  # another install put a copy there meanwhile
            if not (folder / COMPLETE).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def _mapped(folder: Path) -> Arrays:
    """The arrays of an unpacked copy, in the types py3langid's own loading gives them."""

    def read(name: str) -> np.ndarray:
        mapped: np.ndarray = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        return mapped

    return (
        read("ptc"),
        np.array(read("pc")),
        [str(label) for label in read("classes")],
        _stdlib_array(read("nextmove")),
        _stdlib_array(read("row")),
        read("output").tolist(),
    )


def _stdlib_array(values: np.ndarray) -> array[int]:
    """Unsigned integers as the stdlib array py3langid walks (faster to index one by one)."""
    typecodes = {2: "H", 4: "I", 8: "L"}
    if values.dtype.kind != "u" or values.dtype.itemsize not in typecodes:
        raise ValueError(f"unexpected array type {values.dtype}")
    converted = array(typecodes[values.dtype.itemsize])
    converted.frombytes(np.ascontiguousarray(values).tobytes())
    return converted


if __name__ == "__main__":
    print(f"language model unpacked in {unpack()}")
