"""Actions: the word that says what happens to a measure, and which action it states."""

from __future__ import annotations

from spacy.tokens import Span, Token

from pipeline.extraction.lexicon import Lexicon

PART_OF_TAG = {"VERB": "verbs", "AUX": "verbs", "NOUN": "nouns", "ADJ": "adjectives"}
ACTION_POS = frozenset({"VERB", "NOUN", "ADJ", "AUX", "PROPN"})
CHANGES = frozenset(
    {"suspend", "lift", "extend", "maintain", "ease"}
)  # done to an existing measure
SUBJECT_ACTIONS = frozenset({"maintain", "lift", "extend"})  # "the ban remains / ends / runs on"


def action_of(token: Token, lexicon: Lexicon) -> str | None:
    """The action a word states, by lemma, then by its own lower-case form ("Maintains")."""
    # A word states an action in the part of speech it is listed under ("subject" the verb,
    # not the adjective of "items subject to export control"); headline case and proper
    # nouns leave the tagger unsure, so any part counts there.
    if token.dep_ == "prep":  # participles used as prepositions: "including", "following"
        return None
    if any(child.dep_ == "prep" and child.lower_ == "for" for child in token.children) and (
        token.lemma_.lower() in lexicon.cues.request_verbs
    ):
        return None  # "apply for export licenses" asks for one; "apply controls" imposes
    part = PART_OF_TAG.get(token.pos_)
    if part is None or token.is_title or token.is_upper:
        lemmas = lexicon.action_lemmas
    else:
        lemmas = lexicon.action_lemmas_by_part[part]
    word = token.lower_
    # Headline case hides verbs from the tagger ("China Pauses Some Export Controls"):
    # try the word's own inflections too.
    forms = [token.lemma_.lower(), word]
    for suffix, restore in (("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("d", ""),
                            ("ing", ""), ("ing", "e"), ("ies", "y"), ("ied", "y")):  # fmt: skip
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            forms.append(word[: -len(suffix)] + restore)
    return next((lemmas[form] for form in forms if form in lemmas), None)


def action_token(
    sentence: Span, trigger: Span, other_roots: set[int], lexicon: Lexicon
) -> Token | None:
    """The word stating what happens to a measure, nearest in the parse first.

    Participles of action verbs modifying the measure come first ("the tightened controls"),
    then the governing words ("suspended the controls", "the lifting of the ban", "the
    controls remain"), then other modifiers ("new controls"), then clauses attached to the
    measure ("the restrictions, imposed April 4"), then, when the sentence names no other
    measure, the nearest action verb the measure sits under, however deep.
    """
    root = trigger.root
    for child in root.children:  # "the tightened controls", "the continued ban"
        if child.dep_ == "amod" and child.tag_ == "VBN" and action_of(child, lexicon):
            return child
    governing = governing_action(root, lexicon)
    if governing is not None:
        return governing
    for child in root.children:
        if child.dep_ in ("amod", "compound") and child.i < root.i and action_of(child, lexicon):
            return child
    relations = lexicon.relations
    clause_deps = (  # a measure noun read as a verb holds the clause on it as a complement
        relations.verb_measure_clause_deps if root.pos_ == "VERB" else relations.measure_clause_deps
    )
    for child in root.children:
        if child.dep_ in clause_deps and action_of(child, lexicon):
            return child
    if other_roots:  # with several measures in the sentence, a loose word is no evidence
        return None
    nearby = [
        token
        for token in sentence
        if token.pos_ == "VERB"
        and action_of(token, lexicon)
        and not (trigger.start <= token.i < trigger.end)
        and token.head.i not in other_roots
        and not any(child.i in other_roots for child in token.children)
        and token.is_ancestor(trigger.root)  # the measure sits somewhere under it
    ]
    return min(nearby, key=lambda t: (abs(t.i - trigger.start), t.i > trigger.start), default=None)


def governing_action(root: Token, lexicon: Lexicon) -> Token | None:
    """The action word a measure is the object of, climbing at most four heads.

    The climb passes through prepositions that make the measure the thing acted on ("lifting
    of the ban", "cut in tariffs", "exemption from duties") but not through others ("in
    retaliation for tariffs"); a measure that is the subject of a verb takes only verbs of
    state ("the controls remain in force", "the ban ends"), not what it is said to do ("the ban
    signals").
    """
    cues = lexicon.cues
    token = root
    for _ in range(4):
        head = token.head
        if head.i == token.i:
            return None
        if token.dep_ == "pobj" and (
            head.lower_ not in cues.object_prepositions
            or (head.lower_ in cues.noun_prepositions and head.head.pos_ not in ("NOUN", "PROPN"))
        ):
            return None  # "in retaliation for tariffs"; "added ... in a crackdown"
        action = action_of(head, lexicon) if head.pos_ in ACTION_POS else None
        if token.dep_ == "nsubj" and action not in SUBJECT_ACTIONS:
            return None
        if action is not None:
            return head
        token = head
    return None


def container_change(trigger: Span, lexicon: Lexicon) -> Token | None:
    """The change made to a rule or set of measures the measure is described inside
    ("paused its rule extending Entity List restrictions": the pause, not the extending)."""
    container = _container_of(trigger.root, lexicon)
    if container is None:
        return None
    governing = governing_action(container, lexicon)
    if governing is not None and action_of(governing, lexicon) in CHANGES:
        return governing
    return None


def _container_of(root: Token, lexicon: Lexicon) -> Token | None:
    """The rule or set of measures a measure is described inside ("a rule that would have
    extended export restrictions", "the measures against entities added to the control list")."""
    token = root
    for _ in range(6):
        if token.head.i == token.i:
            return None
        token = token.head
        if token.pos_ == "NOUN" and token.lemma_.lower() in lexicon.cues.containers:
            return token
    return None


def prolonging(token: Token | None, action: str | None, lexicon: Lexicon) -> Token | None:
    """The word that prolongs a suspension ("extended its pause", "continue to suspend")."""
    if token is None or action != "suspend" or token.dep_ not in lexicon.relations.prolonged_deps:
        return None  # "suspended X and maintains Y": two steps, not a prolonged pause
    governor = governing_action(token, lexicon)
    if governor is not None and action_of(governor, lexicon) in ("extend", "maintain"):
        return governor
    return None


def widens(trigger: Span, lexicon: Lexicon) -> bool:
    """Whether "extended X to Y" widens a measure to new things rather than to a later date.

    Read from the words right after the measure, since the parse of "to graphite" is unreliable.
    """
    doc = trigger.doc
    following = doc[trigger.end : min(trigger.end + 3, trigger.sent.end)]
    for token in following:
        if token.lower_ == "to" and token.i + 1 < len(doc):
            after = doc[token.i + 1]
            if after.lower_ == "the" and after.i + 1 < len(doc):
                after = doc[after.i + 1]
            return not (
                after.ent_type_ == "DATE" or after.lower_ in lexicon.month_names or after.like_num
            )
    return False
