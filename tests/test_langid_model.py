"""The language model's uncompressed copy: the same classifier as py3langid's packed model, made
once at install, and never trusted when cut short or damaged."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from py3langid.langid import LanguageIdentifier

from pipeline.text import langid_model
from pipeline.text.langid_model import COMPLETE, load_identifier, unpack, unpacked_folder
from tests.conftest import PROJECT
from tests.test_language import CHINESE, ENGLISH, FRENCH

TEXTS = (
    ENGLISH,
    FRENCH,
    CHINESE,
    "Die Ausfuhr von Gallium und Germanium ist seit August genehmigungspflichtig.",
    "Экспорт галлия и германия в США запрещён с декабря.",
    "ガリウムとゲルマニウムの輸出規制が強化された。",
    "",
)


@pytest.fixture(scope="module")
def packed() -> LanguageIdentifier:
    """The classifier read from py3langid's own file."""
    return load_identifier(Path("/nonexistent"))


def _same_classifier(one: LanguageIdentifier, other: LanguageIdentifier) -> None:
    assert np.array_equal(one.nb_ptc, other.nb_ptc) and np.array_equal(one.nb_pc, other.nb_pc)
    assert one.nb_classes == other.nb_classes and one.tk_output == other.tk_output
    assert one.tk_nextmove == other.tk_nextmove and one.tk_row == other.tk_row
    assert [one.classify(text) for text in TEXTS] == [other.classify(text) for text in TEXTS]


def test_the_copy_is_the_packed_model_and_is_made_once(
    tmp_path: Path, packed: LanguageIdentifier
) -> None:
    """Every array is equal, so every text is classified alike; unpacking again writes nothing."""
    folder = unpack(tmp_path)
    assert folder == unpacked_folder(tmp_path) and (folder / COMPLETE).is_file()
    written = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}
    _same_classifier(load_identifier(tmp_path), packed)
    assert unpack(tmp_path) == folder
    assert {path.name: path.stat().st_mtime_ns for path in folder.iterdir()} == written
    assert [path.name for path in tmp_path.iterdir()] == [folder.name]  # no scratch folder left


def test_the_copy_is_mapped_not_read_into_memory(tmp_path: Path) -> None:
    """The large table is a map of the file, shared by every process that reads texts."""
    unpack(tmp_path)
    ptc = load_identifier(tmp_path).nb_ptc
    base = ptc
    while not isinstance(base, np.memmap) and getattr(base, "base", None) is not None:
        base = base.base
    assert isinstance(base, np.memmap) or "mmap" in type(base).__name__


def test_a_copy_cut_short_is_not_read(tmp_path: Path, packed: LanguageIdentifier) -> None:
    """Without its last file the folder is ignored; unpacking again completes it."""
    folder = unpack(tmp_path)
    (folder / COMPLETE).unlink()
    (folder / "ptc.npy").write_bytes(b"cut")
    _same_classifier(load_identifier(tmp_path), packed)
    unpack(tmp_path)
    _same_classifier(load_identifier(tmp_path), packed)


def test_a_damaged_copy_is_named_and_the_packed_model_read(
    tmp_path: Path, packed: LanguageIdentifier, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged file in a complete copy is a warning naming the folder, never a failed run."""
    folder = unpack(tmp_path)
    (folder / "nextmove.npy").write_bytes(b"\x93NUMPY damaged")
    with caplog.at_level(logging.WARNING, logger="newstrack"):
        identifier = load_identifier(tmp_path)
    assert str(folder) in caplog.text
    _same_classifier(identifier, packed)


def test_two_installs_at_once_leave_one_copy(tmp_path: Path) -> None:
    """Each writes its own scratch folder and renames it into place: one wins, none fails."""
    script = (
        "import sys; from pathlib import Path; from pipeline.text.langid_model import unpack; "
        "unpack(Path(sys.argv[1]))"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=PROJECT)
        for _ in range(2)
    ]
    assert [run.wait() for run in runs] == [0, 0]
    assert [path.name for path in tmp_path.iterdir()] == [unpacked_folder(tmp_path).name]
    assert (unpacked_folder(tmp_path) / COMPLETE).is_file()


def test_the_installed_environment_has_its_copy() -> None:
    """`make install` (deploy/install-venv) unpacked the model of the locked py3langid."""
    assert (unpacked_folder() / COMPLETE).is_file(), "run `make install`"
    assert langid_model.UNPACKED_ROOT.is_relative_to(sys.prefix)
