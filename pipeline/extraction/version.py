"""The extractor's version: a release number, the trained pipeline, and a digest of the code and words."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from spacy.language import Language

from models.annotation import EXTRACTOR_VERSION
from models.vocabulary import Vocabulary
from pipeline.extraction.nlp import pipeline_version

# The code whose change can change an annotation: the stages, the text helpers they call, the
# vocabulary's readers and the records the annotation is made of.
CODE_PACKAGES = ("pipeline.extraction", "pipeline.text", "models.vocabulary")
CODE_FILES = (("models", "annotation.py"),)
DIGEST_CHARS = 8
MAX_VERSION_CHARS = 40  # articles.extractor_version holds this many


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


def vocabulary_digest(vocabulary: Vocabulary) -> str:
    """A digest of what a vocabulary holds, as read: a comment or a reordered key changes nothing."""
    return hashlib.sha256(repr(vocabulary).encode()).hexdigest()


def extractor_version(nlp: Language, vocabulary: Vocabulary) -> str:
    """The version stored with every annotation: any change to code, words or pipeline changes it."""
    digest = hashlib.sha256(f"{code_digest()}\0{vocabulary_digest(vocabulary)}".encode())
    pipeline = pipeline_version(nlp)
    room = MAX_VERSION_CHARS - len(EXTRACTOR_VERSION) - DIGEST_CHARS - 2
    return f"{EXTRACTOR_VERSION}+{pipeline[:room]}+{digest.hexdigest()[:DIGEST_CHARS]}"
