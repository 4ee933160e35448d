"""The rules read by the codebook: venues are not targets, weekdays follow tense, page furniture is
not text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from models.annotation import Annotation, ArticleText
from models.vocabulary import VocabularyError, load_vocabulary
from pipeline.extraction import Extractor
from pipeline.extraction.events import as_acts
from pipeline.extraction.lexicon import lexicon_of
from pipeline.extraction.screening import without_boilerplate
from pipeline.text.dates import resolve_date

MONDAY = datetime(2025, 11, 3, 9, tzinfo=UTC)
FOOTER = "The post China bans gallium exports to Japan appeared first on Rare Earth Exchanges."


def _one(extractor: Extractor, text: str) -> Annotation:
    return extractor.annotate([ArticleText("x", text, "", MONDAY)])[0]


def test_a_meetings_venue_is_not_the_target(extractor: Extractor) -> None:
    """ "met in South Korea" says where, not at whom; "exports to Japan" says at whom."""
    venue = _one(extractor, "China suspended its export controls on gallium after the leaders met in South Korea.")  # fmt: skip
    assert [(e.actor, e.action, e.target) for e in venue.events] == [("CN", "suspend", None)]
    apposed = _one(extractor, "China suspended its export controls on gallium after the leaders met in Busan, South Korea.")  # fmt: skip
    assert [(e.actor, e.target) for e in apposed.events] == [("CN", None)]
    aimed = _one(extractor, "China banned exports of gallium to Japan after talks in South Korea.")
    assert [(e.actor, e.target) for e in aimed.events] == [("CN", "JP")]


def test_a_weekday_is_read_in_the_tense_of_its_verb(extractor: Extractor) -> None:
    """In a Monday article, "imposed on Tuesday" is the Tuesday before, "will impose on Tuesday"
    the next day."""
    assert resolve_date("Tuesday", MONDAY.date()) == date(2025, 10, 28)
    assert resolve_date("Tuesday", MONDAY.date(), future=True) == date(2025, 11, 4)
    assert resolve_date("Monday", MONDAY.date(), future=True) == MONDAY.date()
    past = _one(extractor, "China imposed export controls on gallium on Tuesday.")
    coming = _one(extractor, "China will impose export controls on gallium on Tuesday.")
    assert [d.value for e in past.events for d in e.dates] == [date(2025, 10, 28)]
    assert [d.value for e in coming.events for d in e.dates] == [date(2025, 11, 4)]


def test_a_country_that_merely_buys_or_suffers_is_not_the_target(extractor: Extractor) -> None:
    """ "Japan, which imports most of its gallium", "Japan relies on China": buyers, not targets."""
    bystanders = (
        "China banned exports of gallium, and Japan, which imports most of its gallium from China, scrambled for supplies.",
        "China imposed export controls on seven rare earths, and Japan relies on China for 60% of its supply.",
        "China banned exports of gallium, and Japanese buyers said stocks would last three months.",
    )  # fmt: skip
    for text in bystanders:
        assert [(e.actor, e.target) for e in _one(extractor, text).events] == [("CN", None)], text
    aimed = _one(extractor, "China banned exports of gallium to Japan, which relies on the metal.")
    assert [(e.actor, e.target) for e in aimed.events] == [("CN", "JP")]


def test_the_decision_weighs_a_possible_act_as_a_threat_and_a_denied_one_not_at_all(
    extractor: Extractor,
) -> None:
    """ "may ban" is threaten (the codebook's threaten row); "has not banned" is no event."""
    acts = [
        (e.actor, e.action, e.measure, e.mentions[0].modality)
        for text in (
            "China may ban exports of gallium to the United States.",
            "China has not banned exports of gallium to the United States.",
            "China banned exports of gallium to the United States.",
        )
        for e in as_acts(list(_one(extractor, text).events))
    ]
    assert acts == [
        ("CN", "threaten", "export_ban", "threatened"),
        ("CN", "impose", "export_ban", "asserted"),
    ]


def test_page_furniture_is_blanked_where_it_stood(extractor: Extractor) -> None:
    """A feed footer, a follow line and a photo credit give no event and no tag; offsets hold."""
    body = "Gallium prices rose on Monday."
    text = f"{body}\n\n{FOOTER}\nFollow us on X for more news on China.\nPhoto: Reuters/Japan"
    blanked = without_boilerplate(text, extractor.lexicon)
    assert (
        len(blanked) == len(text) and blanked.startswith(body) and not blanked[len(body) :].strip()
    )
    annotation = _one(extractor, text)
    assert annotation.events == () and annotation.countries == []
    kept = _one(extractor, f"China banned exports of gallium to Japan.\n\n{FOOTER}")
    [event] = kept.events
    assert (event.actor, event.target) == ("CN", "JP")
    assert all(mention.sentence != FOOTER for mention in event.mentions)


def test_a_list_of_links_under_its_heading_is_blanked(extractor: Extractor) -> None:
    """Headlines listed under "Related stories" are links, not text; the story after them is read."""
    story = "China banned exports of gallium to Japan on Monday."
    links = (
        "Related stories\n\nUS imposes tariffs on Chinese graphite\n"
        "Beijing lifts ban on antimony exports to the United States?\n"
    )
    text = f"{links}\n{story}"
    blanked = without_boilerplate(text, extractor.lexicon)
    assert len(blanked) == len(text) and blanked.strip() == story
    [event] = _one(extractor, text).events
    assert (event.actor, event.action, event.measure, event.target) == (
        "CN",
        "impose",
        "export_ban",
        "JP",
    )
    ended = "More on critical minerals\nChina bans gallium exports.\nIt took effect at once."
    assert without_boilerplate(ended, extractor.lexicon).split("\n")[1:] == ended.split("\n")[1:]


def test_a_sentence_that_only_resembles_furniture_stays() -> None:
    """Only a whole line is furniture: "share" or "photo" inside a sentence is text."""
    lexicon = lexicon_of(load_vocabulary())
    line = "Investors were told to share the risk: photo finishes in tariff talks are common."
    assert without_boilerplate(line, lexicon) == line


def test_a_broken_furniture_pattern_is_named() -> None:
    """A pattern that is not a regular expression is a vocabulary error naming it."""
    vocabulary = load_vocabulary()
    broken = replace(vocabulary, cues=replace(vocabulary.cues, boilerplate_lines=("(share",)))
    with pytest.raises(VocabularyError, match=r"boilerplate_lines.*\(share"):
        lexicon_of(broken)
    broken = replace(vocabulary, cues=replace(vocabulary.cues, link_list_headings=("(more",)))
    with pytest.raises(VocabularyError, match=r"link_list_headings.*\(more"):
        lexicon_of(broken)
