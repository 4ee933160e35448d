"""Modality: whether a sentence asserts, reports, threatens, negates or supposes its event."""

from __future__ import annotations

from spacy.tokens import Span, Token

from pipeline.extraction.actions import action_of
from pipeline.extraction.lexicon import Lexicon


def modality(sentence: Span, action_token: Token | None, action: str, lexicon: Lexicon) -> str:
    """How the sentence states the event: asserted, reported, threatened, negated, hypothetical.

    An official's own statement ("the ministry said it would suspend ...") is asserted; a
    claim passed on from unnamed people or other media is reported.
    """
    cues = lexicon.modality_cues
    if action == "threaten":
        return "threatened"
    if action_token is not None:
        children = {child.lower_ for child in action_token.children}
        if action_token.dep_ == "pcomp" and action_token.head.head.i != action_token.head.i:
            # "could respond by banning exports": the modal sits on the governing verb
            children |= {child.lower_ for child in action_token.head.head.children}
        if any(child.dep_ == "neg" for child in action_token.children) or (
            action_token.head.lemma_.lower() in set(cues.get("negation", ()))
        ):
            return "negated"
        hypothetical = children & set(cues.get("hypothetical", ()))
        if hypothetical - set(lexicon.cues.reported_futures) or (
            hypothetical and not reported_speech(action_token, lexicon)
        ):
            return "hypothetical"
    words = {token.lower_ for token in sentence}
    if words & set(cues.get("reported", ())):
        return "reported"
    return "asserted"


def reported_speech(token: Token, lexicon: Lexicon) -> bool:
    """Whether a verb sits under a verb of saying ("said it would lift"): "would" is then a future."""
    head = token
    for _ in range(3):
        if head.head.i == head.i:
            return False
        head = head.head
        if head.lemma_.lower() in lexicon.cues.speech_verbs:
            return True
    return False


def threat_over(token: Token | None, lexicon: Lexicon) -> Token | None:
    """The threatening verb that governs an action verb, if any: that verb decides."""
    if token is None or token.dep_ not in ("xcomp", "ccomp"):
        return None
    head = token.head
    if action_of(head, lexicon) != "threaten":
        return None
    return head if token.dep_ == "xcomp" or head.lemma_ in lexicon.cues.threat_verbs else None
