"""The extractor's version: a release number, the trained pipeline, and a digest of the code and words."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from spacy.language import Language

from models.annotation import EXTRACTOR_VERSION
from models.vocabulary import Vocabulary
from models.vocabulary.chinese import ChineseVocabulary, load_chinese_vocabulary
from pipeline.extraction.nlp import pipeline_version

# The code whose change can change an annotation: the stages, the text helpers they call, the
# vocabulary's readers and the records the annotation is made of.
CODE_PACKAGES = ("pipeline.extraction", "pipeline.text", "models.vocabulary")
CODE_FILES = (("models", "annotation.py"),)
DIGEST_CHARS = 8
MAX_VERSION_CHARS = 40  # articles.extractor_version holds this many
PIPELINE_FAMILY = (
    "core_web_"  # dropped from the pipeline's name when the decision's digest needs room
)


def code_sources() -> list[tuple[str, bytes]]:
    """The source of every module that decides what the extractor finds, named package/file."""
    named = [(f"{package}/{entry.name}", entry.read_bytes()) for package in CODE_PACKAGES
             for entry in files(package).iterdir() if entry.name.endswith(".py")]  # fmt: skip
    named += [
        (f"{package}/{name}", files(package).joinpath(name).read_bytes())
        for package, name in CODE_FILES
    ]
    return sorted(named)


def digest_of(named_sources: list[tuple[str, bytes]]) -> str:
    """One digest of named sources: a change to any name or byte changes it."""
    digest = hashlib.sha256()
    for name, source in named_sources:
        digest.update(name.encode() + b"\0" + hashlib.sha256(source).digest())
    return digest.hexdigest()


@cache
def code_digest() -> str:
    """The digest of the extractor's code, read once per process."""
    return digest_of(code_sources())


def vocabulary_digest(vocabulary: Vocabulary | ChineseVocabulary) -> str:
    """A digest of what a vocabulary holds, as read: a comment or a reordered key changes nothing."""
    return hashlib.sha256(repr(vocabulary).encode()).hexdigest()


def extractor_version(
    nlp: Language,
    vocabulary: Vocabulary,
    model: str | None = None,
    chinese: ChineseVocabulary | None = None,
) -> str:
    """The version stored with every annotation: any change to code, words, pipeline or trained
    decision changes it. `model` is the decision's digest; without one, events come from the rules.
    `chinese` is the Chinese vocabulary read (the shipped one by default).
    """
    pipeline = pipeline_version(nlp)
    words = vocabulary_digest(vocabulary)
    words += vocabulary_digest(chinese if chinese is not None else load_chinese_vocabulary())
    digest = hashlib.sha256(f"{code_digest()}\0{words}\0{pipeline}\0{model}".encode())
    parts = [digest.hexdigest()[:DIGEST_CHARS]]
    if model is not None:
        parts.insert(0, model[:DIGEST_CHARS])
        pipeline = pipeline.removeprefix(PIPELINE_FAMILY)
    tail = "+".join(parts)
    room = MAX_VERSION_CHARS - len(EXTRACTOR_VERSION) - len(tail) - 2
    return f"{EXTRACTOR_VERSION}+{pipeline[:room]}+{tail}"
