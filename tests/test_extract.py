"""The extractor on the seed article and on the small cases analysts care about."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from spacy.tokens import Doc

from models import Article
from models.annotation import Annotation, ArticleText, EventRecord
from models.errors import ModelNotFoundError
from models.vocabulary import VocabularyError, default_folder, load_vocabulary
from pipeline.extraction import MAX_READ_CHARS, Extractor
from pipeline.extraction.lexicon import lexicon_of
from pipeline.extraction.nlp import load_pipeline
from pipeline.extraction.version import code_sources, digest_of, extractor_version
from pipeline.text.dates import add_duration

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
    # "imposed April 4", in a later sentence, dates the ban the article says stays, not its keeping.
    assert ban.date_of("recalled") == date(2025, 4, 4)
    assert ban.date_of("announced") is None
    assert not [
        e
        for e in annotation.events
        if (e.action, e.measure) == ("maintain", "export_control") and e.elements
    ]


def test_seed_article_suspension_for_28_companies(extractor: Extractor, seed_text: str) -> None:
    """The seed's suspension covers 28 US companies for 90 days ("the 90-day export reprieve")."""
    annotation = _one(extractor, seed_text)
    suspension = _find(annotation, "suspend", "export_control")
    assert suspension.actor == "CN"
    assert suspension.target == "US"
    assert (suspension.target_count, suspension.target_unit) == (28, "companies")
    assert (90.0, "days") in {(q.value, q.unit) for q in suspension.quantities}


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


def test_a_ferroalloy_names_its_element(extractor: Extractor) -> None:
    """Trade remedies name alloys: antidumping duties on ferrosilicon are on silicon."""
    text = "Commerce is issuing antidumping duty orders on ferrosilicon and ferromanganese from Brazil."
    assert _one(extractor, text).elements == ["silicon", "manganese"]


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


GENERAL_NEWS = (
    "Stocks rose on Tuesday as investors weighed fresh data on consumer spending, and the Federal "
    "Reserve signalled that it would keep interest rates unchanged for now. Shares of carmakers "
    "led the gains in Tokyo, while oil prices slipped for a third day."
)


def test_texts_naming_no_measure_are_screened_not_read(extractor: Extractor) -> None:
    """General news stops after the cheap pass; it keeps its vocabulary tags and says why."""
    price_report = "Dysprosium oxide prices in Europe rose 4% this week, traders in Rotterdam said."
    general, prices = extractor.annotate(
        [ArticleText("general", GENERAL_NEWS), ArticleText("prices", price_report)]
    )
    assert (general.status, general.note) == ("screened", "names no trade measure")
    assert (prices.status, prices.note) == ("screened", "names no trade measure")
    assert prices.elements == ["dysprosium"]
    assert general.countries == ["JP"]  # "Tokyo" names Japan's government, from the vocabulary
    assert general.events == prices.events == ()


def test_tariffs_without_minerals_are_screened_but_export_controls_are_read(
    extractor: Extractor,
) -> None:
    """A steel tariff is not mineral trade policy; an entity listing is, minerals named or not."""
    steel = "Washington raised tariffs on imported steel and aluminium sheet to 50% on Monday."
    steel = steel.replace("aluminium", "rolled")
    listing = (
        "China's Ministry of Commerce added 16 U.S. entities to its export control list on "
        "Wednesday, banning exports of dual-use items to them."
    )
    tariff, controls = extractor.annotate(
        [ArticleText("steel", steel), ArticleText("list", listing)]
    )
    assert (tariff.status, tariff.note) == ("screened", "names no critical mineral")
    assert controls.status == "read"
    assert ("CN", "impose", "entity_listing") in {
        (e.actor, e.action, e.measure) for e in controls.events
    }


@pytest.mark.parametrize(
    ("text", "status", "note"),
    [
        ("", "skipped", "empty text"),
        (" \n\t ", "skipped", "empty text"),
        (
            "El Ministerio de Comercio de China anunció el miércoles la suspensión durante noventa "
            "días de los controles a la exportación sobre veintiocho empresas estadounidenses, y "
            "mantuvo la prohibición de exportar siete tierras raras impuesta el cuatro de abril.",
            "skipped",
            "written in 'es'; the pipeline reads English",
        ),
    ],
)
def test_texts_the_pipeline_cannot_read_are_skipped(
    extractor: Extractor, text: str, status: str, note: str
) -> None:
    """Empty and non-English texts get a status and a note, not a guess."""
    (annotation,) = extractor.annotate([ArticleText("x", text)])
    assert (annotation.status, annotation.note) == (status, note)
    assert annotation.events == ()


def test_stored_language_is_trusted_over_detection(extractor: Extractor, seed_text: str) -> None:
    """An article the fetcher stored as German is skipped even if its text would pass as English."""
    (annotation,) = extractor.annotate([ArticleText("x", seed_text, language="de")])
    assert annotation.status == "skipped"


def test_a_five_megabyte_text_is_read_up_to_the_cap(extractor: Extractor, seed_text: str) -> None:
    """A huge text does not hit spaCy's length limit: its opening is read, and the note says so."""
    huge = (seed_text + "\n\n") * (5_000_000 // len(seed_text) + 1)
    (annotation,) = extractor.annotate([ArticleText("huge", huge)])
    assert annotation.status == "read"
    assert annotation.note is not None and annotation.note.startswith("read the first ")
    assert all(event.evidence.end <= MAX_READ_CHARS for event in annotation.events)
    assert ("CN", "maintain", "export_ban") in {
        (e.actor, e.action, e.measure) for e in annotation.events
    }


def test_garbage_and_endless_sentences_give_a_result(extractor: Extractor, seed_text: str) -> None:
    """Binary noise, and 20,000 words with no full stop or line break, are annotated without a crash."""
    noise = bytes(range(256)).decode("latin-1") * 200
    words = re.sub(r"[^\w\s]", "", seed_text).split()
    run_on = " ".join((words * (20_000 // len(words) + 1))[:20_000])
    results = extractor.annotate([ArticleText("noise", noise), ArticleText("run-on", run_on)])
    assert [annotation.id for annotation in results] == ["noise", "run-on"]
    assert results[1].status == "read"
    assert set(results[1].elements) & SEVEN


def test_a_batch_with_a_failing_text_fails_that_text_alone(
    extractor: Extractor, seed_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When one text breaks the batch, the others are annotated one by one; the bad one is an error."""
    original = extractor._annotate_doc

    def breaks_on_poison(article: ArticleText, doc: Doc, reading: object = None) -> Annotation:
        if article.id == "poison":
            raise ValueError("cannot read this text")
        return original(article, doc, reading)  # type: ignore[arg-type]

    monkeypatch.setattr(extractor, "_annotate_doc", breaks_on_poison)
    results = extractor.annotate_each(
        [ArticleText("a", seed_text), ArticleText("poison", seed_text), ArticleText("b", seed_text)]
    )
    assert isinstance(results[1], ValueError)
    assert [r.id for r in results if isinstance(r, Annotation)] == ["a", "b"]


def test_a_counted_reference_takes_the_elements_named_before(extractor: Extractor) -> None:
    """ "The three metals" in a later sentence are the last three elements the article named."""
    text = (
        "Prices of lithium fell again this week. Gallium, germanium and antimony are used in chips "
        "and munitions. China banned exports of the three metals to the United States on Tuesday."
    )
    ban = _find(_one(extractor, text), "impose", "export_ban")
    assert set(ban.elements) == {"gallium", "germanium", "antimony"}
    assert ban.target == "US"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The Democratic Republic of Congo extended its suspension of cobalt exports by three "
            "more months.",
            ("CD", "extend", "export_ban", ("cobalt",), "asserted"),
        ),
        (
            "The Netherlands said it would require licenses for exports of gallium.",
            ("NL", "impose", "export_control", ("gallium",), "asserted"),
        ),
        (
            "A state broadcaster warned that Beijing could restrict exports of rare earths and "
            "gallium to U.S. defense contractors.",
            ("CN", "threaten", "export_control", ("gallium",), "threatened"),
        ),
        (
            "If Washington imposes that tariff, Beijing could respond by banning exports of "
            "dysprosium and terbium to American buyers.",
            ("CN", "impose", "export_ban", ("dysprosium", "terbium"), "hypothetical"),
        ),
        (
            "Beijing extended its export controls to graphite on Friday.",
            ("CN", "expand", "export_control", ("graphite",), "asserted"),
        ),
        (
            "Congo extended its cobalt export ban to September 2025.",
            ("CD", "extend", "export_ban", ("cobalt",), "asserted"),
        ),
        (
            "The Ministry of Commerce decided to suspend for one year the measures against 15 U.S. "
            "entities that were added to the export control list on March 4, 2025.",
            ("CN", "suspend", "entity_listing", (), "asserted"),
        ),
        (
            "Indonesia, which prohibited nickel ore exports in 2020, has attracted smelter "
            "investment.",
            ("ID", "impose", "export_ban", ("nickel",), "asserted"),
        ),
    ],
)
def test_events_read_from_the_syntax(
    extractor: Extractor, text: str, expected: tuple[str, str, str, tuple[str, ...], str]
) -> None:
    """Actor, action, measure, elements and modality come from how the sentence is built."""
    events = {
        (e.actor, e.action, e.measure, tuple(sorted(e.elements)), e.evidence.modality)
        for e in _one(extractor, text).events
    }
    assert expected in events, events


def test_paragraphs_without_a_measure_are_not_parsed_but_keep_their_tags(
    extractor: Extractor,
) -> None:
    """Only paragraphs that can state a measure (and the one before) go through the parser; the
    others keep their element and country tags, and every offset points into the original text."""
    text = (
        "China tightens its grip on critical minerals\n"
        "Analysts in Tokyo expect lithium demand to recover next year, and cobalt output to grow.\n"
        "Magnet makers in Japan have built up inventories of neodymium oxide since the spring.\n"
        "Gallium and germanium are used in chips and radar.\n"
        "China banned exports of the two metals to the United States on Tuesday.\n"
    )
    reading = extractor._screen(ArticleText("x", text, language="en"))
    assert not isinstance(reading, Annotation)
    skipped = [text[start:end] for start, end in reading.blanked]
    assert skipped == text.splitlines()[1:3]  # the price and inventory lines
    assert len(reading.doc.text) == len(text)
    annotation = _one(extractor, text)
    ban = _find(annotation, "impose", "export_ban")
    assert set(ban.elements) == {"gallium", "germanium"}
    assert {"lithium", "cobalt", "neodymium"} <= set(annotation.elements)  # from skipped lines
    assert "JP" in annotation.countries
    for tag in annotation.element_tags:
        assert text[tag.start : tag.end] == tag.text
    assert text[ban.evidence.start : ban.evidence.end] == ban.evidence.sentence
    assert all(text[q.start : q.end] == q.text for q in annotation.quantities)


@pytest.mark.parametrize(
    ("text", "recalled", "expires"),
    [
        (
            "China's Commerce Ministry said it will suspend the export control measures it "
            "announced on Oct. 9 for one year.",
            date(2025, 10, 9),
            date(2026, 11, 3),
        ),
        (
            "China will suspend its Oct. 9 rare earth export control package for one year.",
            date(2025, 10, 9),
            date(2026, 11, 3),
        ),
        (
            "China on Wednesday suspended export restrictions on 28 U.S. companies for 90 days.",
            None,
            date(2026, 1, 27),
        ),
    ],
)
def test_a_change_dates_the_measure_it_changes_and_how_long_it_lasts(
    extractor: Extractor, text: str, recalled: date | None, expires: date
) -> None:
    """The date inside the measure's phrase is the measure's; "for one year" ends a suspension."""
    published = datetime(2025, 11, 3, 9, tzinfo=UTC)
    suspension = _find(_one(extractor, text, published), "suspend", "export_control")
    assert suspension.date_of("recalled") == recalled
    assert suspension.date_of("expires") == expires
    assert suspension.date_of("announced") != recalled


def test_an_imposition_keeps_its_own_date(extractor: Extractor) -> None:
    """For an imposition, the date in its phrase is when it was announced."""
    imposed = _find(
        _one(
            extractor,
            "China's Ministry of Commerce on April 4 imposed export controls on seven rare earths.",
        ),
        "impose",
        "export_control",
    )
    assert imposed.date_of("announced") == date(2025, 4, 4)
    assert imposed.date_of("recalled") is None


def test_durations_end_on_the_right_day() -> None:
    """Spans of days, weeks, months and years count from their start; a month-end stays in its month."""
    assert add_duration(date(2025, 5, 14), "90 days") == date(2025, 8, 12)
    assert add_duration(date(2025, 5, 14), "90-day") == date(2025, 8, 12)
    assert add_duration(date(2025, 5, 14), "two weeks") == date(2025, 5, 28)
    assert add_duration(date(2025, 1, 31), "one month") == date(2025, 2, 28)
    assert add_duration(date(2025, 11, 10), "six months") == date(2026, 5, 10)
    assert add_duration(date(2024, 2, 29), "a year") == date(2025, 2, 28)
    assert add_duration(date(2025, 5, 14), "the coming months") is None


def test_the_reference_patterns_are_built_from_the_cue_words() -> None:
    """ "These materials" and "the three metals" match the nouns cues.yaml lists, and only those."""
    vocabulary = load_vocabulary()
    cues = replace(vocabulary.cues, reference_nouns=("alloys",), counted_nouns=("alloys",))
    lexicon = lexicon_of(replace(vocabulary, cues=cues))
    assert lexicon.anaphora.search("exports of these alloys")
    assert not lexicon.anaphora.search("exports of these metals")
    assert lexicon.counted_reference.search("the three alloys")
    assert not lexicon.counted_reference.search("the three metals")
    assert lexicon_of(vocabulary).counted_reference.search("both rare earths")


def test_a_counted_number_without_a_value_is_a_vocabulary_error() -> None:
    """Every number word of a counted reference needs its value among the number words."""
    vocabulary = load_vocabulary()
    cues = replace(vocabulary.cues, counted_numbers=("two", "eleventy"))
    with pytest.raises(VocabularyError, match="eleventy"):
        lexicon_of(replace(vocabulary, cues=cues))


# The extractor's version


def _vocabulary_copy(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    """The shipped vocabulary folder copied, with cues.yaml edited."""
    folder = tmp_path / "vocabulary"
    shutil.copytree(default_folder(), folder)
    cues = folder / "cues.yaml"
    cues.write_text(edit(cues.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


def test_a_vocabulary_edit_changes_the_extractor_version(
    extractor: Extractor, tmp_path: Path
) -> None:
    """One more cue word gives another version (so `extract --all` reads again); a comment does not."""
    added = _vocabulary_copy(
        tmp_path / "added",
        lambda text: text.replace("speech_verbs: [", "speech_verbs: [proclaim, ", 1),
    )
    commented = _vocabulary_copy(tmp_path / "commented", lambda text: "# a note\n" + text)
    assert "proclaim" in load_vocabulary(added).cues.speech_verbs
    assert extractor_version(extractor.nlp, load_vocabulary(commented)) == extractor.version
    assert extractor_version(extractor.nlp, load_vocabulary(added)) != extractor.version


def test_the_extractor_version_covers_its_code_and_fits_its_column(extractor: Extractor) -> None:
    """The digest reads every stage, text helper and vocabulary reader; any byte changes it."""
    sources = code_sources()
    names = [name for name, _ in sources]
    for expected in ("pipeline.extraction/events.py", "pipeline.text/dates.py",
                     "models.vocabulary/reading.py", "models/annotation.py"):  # fmt: skip
        assert expected in names
    name, source = sources[0]
    assert digest_of([(name, source + b"\n"), *sources[1:]]) != digest_of(sources)
    assert re.fullmatch(r"1\+[\w.-]+\+[0-9a-f]{8}", extractor.version)
    assert len(extractor.version) <= Article.__table__.c.extractor_version.type.length
