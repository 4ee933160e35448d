"""The extractor on the seed article and on the small cases analysts care about."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from models.vocabulary import load_vocabulary
from pipeline.errors import ModelNotFoundError
from pipeline.extract import Annotation, ArticleText, EventRecord, Extractor
from pipeline.nlp import load_pipeline

SEVEN = {"samarium", "gadolinium", "terbium", "dysprosium", "lutetium", "scandium", "yttrium"}
MAY_2025 = datetime(2025, 5, 14, 12, tzinfo=UTC)


def _one(extractor: Extractor, text: str, published: datetime | None = MAY_2025) -> Annotation:
    return extractor.annotate([ArticleText("x", text, "", published)])[0]


def _find(annotation: Annotation, action: str, measure: str) -> EventRecord:
    found = [e for e in annotation.events if e.action == action and e.measure == measure]
    assert found, [(e.actor, e.action, e.measure) for e in annotation.events]
    return found[0]


def test_seed_article_maintained_export_ban(extractor: Extractor, seed_text: str) -> None:
    """The seed's ban on seven rare earths is a maintained CN export ban against the US."""
    annotation = _one(extractor, seed_text)
    assert annotation.on_topic
    assert set(annotation.elements) == SEVEN
    ban = _find(annotation, "maintain", "export_ban")
    assert set(ban.elements) == SEVEN
    assert ban.actor == "CN"
    assert ban.target == "US"


def test_seed_article_suspension_for_28_companies(extractor: Extractor, seed_text: str) -> None:
    """The seed's suspension covers 28 US companies."""
    annotation = _one(extractor, seed_text)
    suspension = _find(annotation, "suspend", "export_control")
    assert suspension.actor == "CN"
    assert suspension.target == "US"
    assert (suspension.target_count, suspension.target_unit) == (28, "companies")


def test_seed_article_entity_list_removal(extractor: Extractor, seed_text: str) -> None:
    """Removing 17 entities from the unreliable entity list is lifting an entity listing."""
    removal = _find(_one(extractor, seed_text), "lift", "entity_listing")
    assert removal.actor == "CN"
    assert (removal.target_count, removal.target_unit) == (17, "entities")


def test_seed_article_quantities_and_dates(extractor: Extractor, seed_text: str) -> None:
    """ "over 70%" is a qualified percentage; "April 4" resolves to 2025 for a May 2025 article."""
    annotation = _one(extractor, seed_text)
    percents = [q for q in annotation.quantities if q.unit == "percent"]
    assert any(q.value == 70 and q.qualifier == "over" for q in percents)
    assert any(q.value == 90 and q.unit == "days" for q in annotation.quantities)
    dates = {tag.value for event in annotation.events for tag in event.dates}
    assert date(2025, 4, 4) in dates


def test_seed_article_entities(extractor: Extractor, seed_text: str) -> None:
    """Countries become ISO codes; the Commerce Ministry is MOFCOM; the site is not a person."""
    annotation = _one(extractor, seed_text)
    assert annotation.countries[:2] == ["CN", "US"]
    assert "MOFCOM" in annotation.orgs
    assert "Rare Earth Exchanges" in annotation.orgs
    groups = [tag for tag in annotation.element_tags if tag.is_group]
    assert all("Exchanges" not in tag.text for tag in groups)


def test_symbols_only_count_beside_other_elements(extractor: Extractor) -> None:
    """ "Dy and Tb" are elements; "In" starting a sentence is a word."""
    paired = _one(extractor, "Prices of Dy and Tb oxides rose after the export controls.")
    assert set(paired.elements) == {"dysprosium", "terbium"}
    alone = _one(extractor, "In the morning, the ministry spoke about Y and Ce as letters.")
    assert alone.elements == []


def test_compound_names_elements_and_form(extractor: Extractor) -> None:
    """NdFeB magnets name neodymium in magnet form."""
    annotation = _one(extractor, "China restricted exports of NdFeB magnets to the United States.")
    tags = [tag for tag in annotation.element_tags if tag.name == "neodymium"]
    assert tags and tags[0].form == "magnet"


def test_group_words_are_not_elements(extractor: Extractor) -> None:
    """ "heavy rare earths" is a group, never a list of elements."""
    annotation = _one(
        extractor, "Beijing tightened export controls on heavy rare earths on Monday."
    )
    assert annotation.elements == []
    assert any(tag.is_group for tag in annotation.element_tags)


def test_us_tariff_event(extractor: Extractor) -> None:
    """A US tariff threat is a threatened import tariff by the US against China."""
    text = (
        "President Donald Trump threatened on Friday to impose 100% tariffs on Chinese goods "
        "after Beijing expanded its rare earth export controls."
    )
    annotation = _one(extractor, text)
    threat = _find(annotation, "threaten", "import_tariff")
    assert threat.actor == "US"
    assert threat.target == "CN"
    assert threat.evidence.modality == "threatened"


def test_lithium_medicine_is_off_topic(extractor: Extractor) -> None:
    """A health story naming lithium is not trade policy."""
    text = (
        "Doctors have prescribed lithium for bipolar disorder for decades. A new study of "
        "2,000 patients found that regular blood tests keep lithium levels in a safe range."
    )
    annotation = _one(extractor, text)
    assert annotation.elements == ["lithium"]
    assert not annotation.on_topic
    assert annotation.events == ()


def test_evidence_offsets_point_into_the_text(extractor: Extractor, seed_text: str) -> None:
    """Every mention's offsets cut its evidence sentence out of the text."""
    annotation = _one(extractor, seed_text)
    for event in annotation.events:
        for mention in event.mentions:
            assert seed_text[mention.start : mention.end] == mention.sentence


def test_annotate_keeps_input_order(extractor: Extractor, seed_text: str) -> None:
    """Batches come back in the order they went in."""
    articles = [
        ArticleText(str(i), text) for i, text in enumerate(["Nothing here.", seed_text, ""])
    ]
    assert [a.id for a in extractor.annotate(articles)] == ["0", "1", "2"]


def test_missing_pipeline_is_a_clear_error() -> None:
    """With no trained pipeline installed, the error says how to install one."""
    with pytest.raises(ModelNotFoundError, match="pip install"):
        load_pipeline(("no_such_pipeline_xyz",))


def test_vocabulary_has_the_seventeen_rare_earths() -> None:
    """The shipped vocabulary knows all 17 rare earths, light and heavy."""
    vocabulary = load_vocabulary()
    rare = [e for e in vocabulary.elements if e.group in ("light_rare_earth", "heavy_rare_earth")]
    assert len(rare) == 17
    assert {e.name for e in rare} >= SEVEN


def test_events_use_only_the_shared_vocabularies(extractor: Extractor, seed_text: str) -> None:
    """Actions, measures and modalities come from the vocabularies the database and digests share."""
    from models.vocabulary import ACTIONS, MEASURES, MODALITIES

    events = _one(extractor, seed_text).events
    assert events
    for event in events:
        assert event.action in ACTIONS
        assert event.measure in MEASURES
        assert all(mention.modality in MODALITIES for mention in event.mentions)
