"""The language of an article: what its words say when that is clear, else what the page declares."""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

SAMPLE_CHARS = 3000  # the opening of a text is enough to tell its language
MIN_BYTES = (
    200  # UTF-8 bytes, what langid reads; below this it guesses (element names read as Latin)
)
CONFIDENT = 0.6  # normalised probability (over 97 languages) at which the words overrule the page
# Chinese is told by its script: Han characters as most of the letters, and next to no kana or
# hangul (Japanese, Korean). The classifier reads short Chinese as unknown, or as Wu ("wuu").
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
KANA_OR_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
LETTER = re.compile(r"[^\W\d_]")
MIN_HAN = 12  # characters: a short headline in Chinese is enough


_LOADING = threading.Lock()
_BACKGROUND: list[threading.Thread] = []  # loads started by load_classifier_in_background


@cache
def _load_identifier() -> LanguageIdentifier:
    # numpy and py3langid (0.13 s) only where a text is classified: not in a run that never does
    from pipeline.text.langid_model import load_identifier

    return load_identifier()


def _identifier() -> LanguageIdentifier:
    """The langid.py model of the py3langid package (see langid_model), loaded once per process.

    The lock keeps fetch threads that meet their first article together from each loading it.
    """
    with _LOADING:
        return _load_identifier()


def load_classifier_in_background() -> None:
    """Start loading the classifier in a thread, while the caller does other work first.

    Mapping the unpacked model takes a few hundredths of a second; decompressing the packed one,
    most of a second. A text read before it is done waits for it (and only for what is left).
    """
    loading = threading.Thread(target=_identifier, name="newstrack-language", daemon=True)
    loading.start()
    _BACKGROUND.append(loading)


def classifier_ready() -> None:
    """Load the classifier here, or wait for its background load to end, thread and all."""
    _identifier()
    while _BACKGROUND:
        _BACKGROUND.pop().join()


def declared_language(value: object) -> str | None:
    """An ISO 639-1 code from an `lang` attribute or feed field ("en-US" → "en"), if any."""
    if not isinstance(value, str) or not value.strip():
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def detect_language(text: str, declared: object = None) -> str | None:
    """The text's language: the classifier's when it is confident, else the declared one."""
    stated = declared_language(declared)
    sample = text[:SAMPLE_CHARS]
    if _written_in_chinese(sample):
        return "zh"
    if len(sample.strip().encode("utf-8")) < MIN_BYTES:
        return stated
    code, probability = _identifier().classify(sample)
    if probability >= CONFIDENT or stated is None:
        return str(code)
    return stated


def _written_in_chinese(sample: str) -> bool:
    """Whether a text is in Chinese by its script: mostly Han characters, hardly any kana or hangul."""
    han = len(HAN.findall(sample))
    if han < MIN_HAN:
        return False
    letters = len(LETTER.findall(sample))
    return 2 * han >= letters and 10 * len(KANA_OR_HANGUL.findall(sample)) < han
