"""MOFCOM's Chinese announcements read into the same tags and policy events as English text, the
instrument they cite in one form in both languages, and one stored event from both."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Article, Event, EventElement, Mention
from models.annotation import (
    Annotation,
    ArticleText,
    ElementTag,
    EntityTag,
    EventMention,
    EventRecord,
    QuantityTag,
)
from models.vocabulary import VocabularyError, load_vocabulary
from models.vocabulary.chinese import chinese_folder, load_chinese_vocabulary
from pipeline.extraction import Extractor
from pipeline.extraction.chinese import ChineseReader
from pipeline.extraction.events import events
from pipeline.extraction.instruments import with_instruments
from pipeline.extraction.version import extractor_version
from storage.annotations import save_annotation
from storage.articles import NewArticle, add_article
from storage.sessions import unit_of_work
from tests.stored import ready, two_sources

# Announcements written in MOFCOM's formulae: heading with number and title, grounds, decision,
# numbered clauses, the day it applies from, the issuer and the date.
BAN_TO_US = """商务部公告2024年第46号 关于加强相关两用物项对美国出口管制的公告

为维护国家安全和利益、履行防扩散等国际义务，根据《中华人民共和国出口管制法》等法律法规有关规定，\
决定加强相关两用物项对美国出口管制。现将有关事项公告如下：
一、禁止两用物项对美国军事用户或军事用途出口。
二、原则上不予许可镓、锗、锑、超硬材料相关两用物项对美国出口。对石墨两用物项对美出口，\
实施更严格的最终用户和最终用途审查。
三、任何国家和地区的组织和个人，违反上述规定，将原产于中华人民共和国的相关两用物项转移或提供给\
美国的组织和个人，将依法追究法律责任。
本公告自公布之日起正式实施。

商务部
2024年12月3日
"""
RARE_EARTHS = """商务部 海关总署公告2025年第18号 关于对部分中重稀土相关物项实施出口管制的决定

为维护国家安全和利益、履行防扩散等国际义务，经国务院批准，根据《中华人民共和国出口管制法》\
《中华人民共和国海关法》《中华人民共和国两用物项出口管制条例》有关规定，决定对下列物项实施出口管制。\
有关事项公告如下：
一、以下物项未经许可不得出口：
（一）钐相关物项：钐金属、钐铁合金、氧化钐。
（二）钆相关物项：钆金属、氧化钆。
（三）铽相关物项：铽金属、氧化铽。
（四）镝相关物项：镝金属、镝铁合金、氧化镝。
（五）镥相关物项：镥金属、氧化镥。
（六）钪相关物项：钪金属、氧化钪、钪铝合金。
（七）钇相关物项：钇金属、氧化钇。
二、出口经营者应当按照有关规定办理出口许可手续，通过省级商务主管部门向商务部提出申请。
三、本公告自公布之日起正式实施。

商务部 海关总署
2025年4月4日
"""
SUSPENSION = """商务部公告2025年第70号 关于暂停实施商务部公告2024年第46号第二款的公告

为落实中美经贸磋商共识，现将有关事项公告如下：
一、暂停实施《商务部公告2024年第46号 关于加强相关两用物项对美国出口管制的公告》第二款，\
即“原则上不予许可镓、锗、锑、超硬材料相关两用物项对美国出口；对石墨两用物项对美出口，\
实施更严格的最终用户和最终用途审查”。
二、本公告自公布之日起执行，至2026年11月27日止。

商务部
2025年11月9日
"""
LISTING = """不可靠实体清单工作机制公告2025年第2号 关于将相关美国实体列入不可靠实体清单的公告

根据《不可靠实体清单规定》第二条、第八条和第十条的规定，不可靠实体清单工作机制决定，\
将11家美国实体列入不可靠实体清单，并采取以下处理措施：
一、禁止其从事与中国有关的进出口活动；
二、禁止其在中国境内新增投资。
本公告自公布之日起实施。

不可靠实体清单工作机制
2025年4月4日
"""
LISTING_SUSPENDED = """不可靠实体清单工作机制公告2025年第4号

为落实中美经贸会谈共识，根据《不可靠实体清单规定》第十二条，不可靠实体清单工作机制决定，\
自2025年5月14日起，对列入不可靠实体清单的十七家美国实体暂停实施相关处理措施，为期90天。

不可靠实体清单工作机制
2025年5月14日
"""
TARIFF = """国务院关税税则委员会公告2025年第4号

经国务院批准，自2025年4月10日12时01分起，对原产于美国的所有进口商品，在现行适用关税税率基础上\
加征34%关税。

国务院关税税则委员会
2025年4月4日
"""
# A spokesperson's statement, as news: no number, no date of its own.
STATEMENT = (
    "商务部新闻发言人表示，中方决定暂停对28家美国实体的出口管制管控措施，为期90天。"
    "同时，中方不会取消对镓、锗相关物项的出口管制。"
    "中方拟对原产于美国的进口商品加征关税。"
)


@dataclass(frozen=True)
class Expected:
    """What one event of an announcement says, field by field."""

    action: str
    measure: str
    elements: tuple[str, ...]
    target: str | None
    announced: date | None
    effective: date | None = None
    expires: date | None = None
    count: tuple[int, str] | None = None
    modality: str = "asserted"
    actor: str | None = "CN"
    body: str | None = "MOFCOM"


def _seen(record: EventRecord) -> Expected:
    """An event as the expectations write it."""
    count = (
        (record.target_count, record.target_unit)
        if record.target_count and record.target_unit
        else None
    )
    return Expected(
        record.action,
        record.measure,
        record.elements,
        record.target,
        record.date_of("announced"),
        record.date_of("effective"),
        record.date_of("expires"),
        count,
        record.evidence.modality,
        record.actor,
        record.actor_body,
    )


DEC_3, APR_4, NOV_9 = date(2024, 12, 3), date(2025, 4, 4), date(2025, 11, 9)
MECHANISM = "Unreliable Entity List Working Mechanism"
SEVEN = ("samarium", "gadolinium", "terbium", "dysprosium", "lutetium", "scandium", "yttrium")
ANNOUNCEMENTS = {
    "ban to the US": (
        BAN_TO_US,
        "MOFCOM Announcement No. 46 of 2024",
        [
            Expected(
                "impose", "export_ban", ("gallium", "germanium", "antimony"), "US", DEC_3, DEC_3
            ),
            Expected("expand", "export_control", ("graphite",), "US", DEC_3, DEC_3),
        ],
    ),
    "rare earths": (
        RARE_EARTHS,
        "MOFCOM Announcement No. 18 of 2025",
        [Expected("impose", "export_control", SEVEN, None, APR_4, APR_4)],
    ),
    "suspension": (
        SUSPENSION,
        "MOFCOM Announcement No. 70 of 2025",
        [
            Expected(
                "suspend",
                "export_ban",
                ("gallium", "germanium", "antimony"),
                "US",
                NOV_9,
                NOV_9,
                date(2026, 11, 27),
            ),
            Expected(
                "suspend", "export_control", ("graphite",), "US", NOV_9, NOV_9, date(2026, 11, 27)
            ),
        ],
    ),
    "listing": (
        LISTING,
        f"{MECHANISM} Announcement No. 2 of 2025",
        [
            Expected(
                "impose",
                "entity_listing",
                (),
                "US",
                APR_4,
                APR_4,
                count=(11, "entities"),
                body=MECHANISM,
            )
        ],
    ),
    "listing suspended": (
        LISTING_SUSPENDED,
        f"{MECHANISM} Announcement No. 4 of 2025",
        [
            Expected(
                "suspend",
                "entity_listing",
                (),
                "US",
                date(2025, 5, 14),
                date(2025, 5, 14),
                date(2025, 8, 12),  # 90 days on
                count=(17, "entities"),
                body=MECHANISM,
            )
        ],
    ),
    "tariff": (
        TARIFF,
        "Customs Tariff Commission Announcement No. 4 of 2025",
        [
            Expected(
                "impose",
                "import_tariff",
                (),
                "US",
                APR_4,
                date(2025, 4, 10),
                body="Customs Tariff Commission",
            )
        ],
    ),
}


@pytest.fixture(scope="module")
def reader() -> ChineseReader:
    """The Chinese reader of the shipped vocabularies."""
    return ChineseReader(load_chinese_vocabulary(), load_vocabulary())


def _read(reader: ChineseReader, text: str, published: datetime | None = None) -> Annotation:
    return reader.annotate(ArticleText("zh", text, "", published), "test")


@pytest.mark.parametrize("name", list(ANNOUNCEMENTS))
def test_each_field_of_an_announcement(reader: ChineseReader, name: str) -> None:
    """Actor, body, action, measure, elements, target, count, dates, modality and instrument."""
    text, instrument, expected = ANNOUNCEMENTS[name]
    annotation = _read(reader, text, datetime(2025, 12, 1, tzinfo=UTC))  # a later page date
    assert sorted(map(_seen, annotation.events), key=repr) == sorted(expected, key=repr)
    assert {record.instrument for record in annotation.events} == {instrument}
    assert annotation.status == "read"
    # A tariff on all goods names no mineral: off topic, as in English.
    assert annotation.on_topic == (name != "tariff")


@pytest.mark.parametrize("name", list(ANNOUNCEMENTS))
def test_evidence_and_tags_point_into_the_text(reader: ChineseReader, name: str) -> None:
    """Every evidence sentence, tag and quantity is the text at its offsets, so it can be marked."""
    text = ANNOUNCEMENTS[name][0]
    annotation = _read(reader, text)
    for record in annotation.events:
        for mention in record.mentions:
            assert text[mention.start : mention.end] == mention.sentence
            assert mention.reported_label in mention.sentence
    tags: list[ElementTag | EntityTag | QuantityTag] = [
        *annotation.element_tags,
        *annotation.entity_tags,
        *annotation.quantities,
    ]
    assert tags and all(text[tag.start : tag.end] == tag.text for tag in tags)


def test_tags_name_elements_groups_countries_and_bodies_as_english_does(
    reader: ChineseReader,
) -> None:
    """Chinese names become the English vocabulary's names, symbols, groups and codes."""
    annotation = _read(reader, RARE_EARTHS)
    assert set(annotation.elements) == {*SEVEN, "aluminum"}  # 钪铝合金 names aluminium too
    assert annotation.groups == ["heavy_rare_earths"]  # 中重稀土 in the title
    dysprosium = next(tag for tag in annotation.element_tags if tag.text == "镝")
    assert (dysprosium.symbol, dysprosium.group) == ("Dy", "heavy_rare_earth")
    forms = {(tag.text, tag.form) for tag in annotation.element_tags}
    assert ("钐", "metal") in forms  # 钐金属
    assert ("钆", "oxide") in forms  # 氧化钆
    assert annotation.orgs == ["MOFCOM", "GACC", "State Council"]
    assert annotation.countries == ["CN"]
    listing = _read(reader, LISTING)
    assert [(q.value, q.unit, q.text) for q in listing.quantities] == [
        (11, "entities", "11家美国实体")
    ]


def test_words_holding_a_name_are_not_that_name(reader: ChineseReader) -> None:
    """Superhard materials have no element; a bank is no silver and the dollar no country."""
    annotation = _read(reader, "中国人民银行表示，美元汇率波动；超硬材料相关物项与石墨烯不在此列。")
    assert annotation.element_tags == ()
    assert annotation.countries == ["CN"]


def test_a_statement_in_the_news_gives_its_acts_and_their_modality(reader: ChineseReader) -> None:
    """A statement without number or date of its own: the page's day, a span of time, a denial
    that keeps the measure, and a plan that only threatens."""
    annotation = _read(reader, STATEMENT, datetime(2025, 5, 14, 9, tzinfo=UTC))
    may_14 = date(2025, 5, 14)
    assert sorted(map(_seen, annotation.events), key=repr) == sorted(
        [
            Expected(
                "suspend",
                "entity_listing",
                (),
                "US",
                may_14,
                None,
                date(2025, 8, 12),
                count=(28, "entities"),
            ),
            Expected("maintain", "export_control", ("gallium", "germanium"), None, may_14),
            Expected("threaten", "import_tariff", (), "US", may_14, modality="threatened"),
        ],
        key=repr,
    )
    assert {record.instrument for record in annotation.events} == {None}


def test_a_text_without_an_act_is_off_topic(reader: ChineseReader) -> None:
    """Prices and figures that name elements are no act on a measure."""
    annotation = _read(reader, "今年以来，镓、锗价格明显上涨，稀土出口量同比增长7.3%。")
    assert annotation.events == ()
    assert not annotation.on_topic
    assert annotation.elements == ["gallium", "germanium"]


def test_the_extractor_reads_chinese_and_still_skips_other_languages(
    extractor: Extractor,
) -> None:
    """Chinese text goes to the Chinese reader; French and Spanish are skipped with their note."""
    french = (
        "Le ministère chinois du Commerce a annoncé mercredi la suspension pour quatre-vingt-dix "
        "jours des contrôles à l'exportation visant vingt-huit entreprises américaines, tout en "
        "maintenant l'interdiction d'exporter sept terres rares imposée le quatre avril dernier."
    )
    spanish = (
        "El Ministerio de Comercio de China anunció el miércoles la suspensión durante noventa "
        "días de los controles a la exportación sobre veintiocho empresas estadounidenses, y "
        "mantuvo la prohibición de exportar siete tierras raras impuesta el cuatro de abril."
    )
    chinese, stored, fr, es = extractor.annotate(
        [
            ArticleText("detected", RARE_EARTHS),
            ArticleText("stored", BAN_TO_US, language="zh"),
            ArticleText("fr", french),
            ArticleText("es", spanish),
        ]
    )
    assert (chinese.status, chinese.extractor_version) == ("read", extractor.version)
    assert [(e.action, e.measure, e.elements) for e in chinese.events] == [
        ("impose", "export_control", SEVEN)
    ]
    assert {e.measure for e in stored.events} == {"export_ban", "export_control"}
    for skipped, code in ((fr, "fr"), (es, "es")):
        assert (skipped.status, skipped.note) == (
            "skipped",
            f"written in {code!r}; the pipeline reads English",
        )
        assert skipped.events == ()


def _chinese_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """The shipped Chinese vocabulary copied, with one text of one file replaced."""
    folder = tmp_path / "zh"
    shutil.copytree(chinese_folder(), folder)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def test_a_chinese_vocabulary_edit_changes_the_extractor_version(
    extractor: Extractor, tmp_path: Path
) -> None:
    """One more Chinese word gives another version (so articles are read again); a comment does not."""
    added = _chinese_copy(tmp_path / "added", "actions.yaml", "放宽, ", "放宽, 松绑, ")
    commented = _chinese_copy(
        tmp_path / "commented", "actions.yaml", "version: 1", "# a note\nversion: 1"
    )
    nlp, vocabulary = extractor.nlp, extractor.vocabulary
    assert extractor_version(nlp, vocabulary) == extractor.version
    same = extractor_version(nlp, vocabulary, None, load_chinese_vocabulary(commented))
    assert same == extractor.version
    assert extractor_version(nlp, vocabulary, None, load_chinese_vocabulary(added)) != same


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "elements.yaml",
            "镓: gallium",
            "镓: galium",
            "zh/elements.yaml: elements: not in the English",
        ),
        ("entities.yaml", "MOFCOM: [商务部", "MOFCOM2: [商务部", "zh/entities.yaml: bodies"),
        ("measures.yaml", "  export_quota:", "  export_limit:", "zh/measures.yaml: measures"),
        ("actions.yaml", "放宽, ", "放宽, 实施, ", "'实施' is listed for 'impose' and 'ease'"),
        ("actions.yaml", "放宽, ", "放宽, 关税, ", "words listed with two meanings"),
        ("text.yaml", "percent: '(?P<value>", "percent: '((?P<value>", "zh/text.yaml"),
    ],
)
def test_a_chinese_word_that_maps_to_nothing_names_its_file(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    """A name the English vocabulary lacks, a word with two meanings or a bad pattern stops loading."""
    folder = _chinese_copy(tmp_path, file, old, new)
    with pytest.raises(VocabularyError, match=message):
        load_chinese_vocabulary(folder)


def _record(sentence: str, actor: str | None = "CN", body: str | None = None) -> EventRecord:
    mention = EventMention(sentence, 0, len(sentence), "export controls", "asserted", 0.9)
    return EventRecord(
        actor, body, "impose", "export_control", (), None, None, None, (), (), (mention,)
    )


@pytest.mark.parametrize(
    ("sentence", "title", "expected"),
    [
        ("It acted under MOFCOM Announcement No. 18 of 2025.", "", "MOFCOM Announcement No. 18 of 2025"),
        ("Announcement No. 61 of 2025 imposes controls.", "", "MOFCOM Announcement No. 61 of 2025"),
        ("The Ministry of Commerce Announcement No. 46 (2024) bans exports.", "", "MOFCOM Announcement No. 46 of 2024"),
        ("China imposed export controls.", "Announcement No. 46 of 2024 explained", "MOFCOM Announcement No. 46 of 2024"),
        ("It suspends the second clause of Announcement No. 46 of 2024.", "", None),
        ("It listed them in Announcement No. 10 (2025) of the Working Mechanism of the Unreliable Entity List.", "", f"{MECHANISM} Announcement No. 10 of 2025"),
        ("China imposed export controls in Announcement No. 70.", "", None),  # no year
    ],
)  # fmt: skip
def test_english_events_take_the_instrument_their_sentence_or_title_names(
    reader: ChineseReader, sentence: str, title: str, expected: str | None
) -> None:
    """The English form of a citation is stored as the Chinese one is; a clause of another
    announcement is not the event's own, and a citation without a year is left alone."""
    [record] = with_instruments([_record(sentence)], title, reader.instruments)
    assert record.instrument == expected
    assert replace(record, instrument=None) == _record(sentence)


def test_the_instrument_changes_nothing_else_of_the_english_events(extractor: Extractor) -> None:
    """The rules' events of an English text are the same with their instrument taken away."""
    text = (
        "China's Ministry of Commerce on April 4 imposed export controls on samarium, gadolinium "
        "and terbium, under MOFCOM Announcement No. 18 of 2025. China also added 11 US firms "
        "to its unreliable entity list."
    )
    article = ArticleText("en", text, "", datetime(2025, 4, 5, tzinfo=UTC))
    [annotation] = extractor.annotate([article])
    rules = events(extractor.parsed_text(article, extractor.nlp(text)))
    assert [replace(e, instrument=None) for e in annotation.events] == rules
    named = {e.measure: e.instrument for e in annotation.events}
    assert named == {
        "export_control": "MOFCOM Announcement No. 18 of 2025",
        "entity_listing": None,
    }


ENGLISH_REPORTS = [
    (
        "https://news.example/rare-earths",
        datetime(2025, 4, 5, 8, tzinfo=UTC),
        "China's Ministry of Commerce and the General Administration of Customs on April 4 imposed "
        "export controls on seven medium and heavy rare earths: samarium, gadolinium, terbium, "
        "dysprosium, lutetium, scandium and yttrium, under MOFCOM Announcement No. 18 of 2025.",
    ),
    (
        "https://news.example/gallium",
        datetime(2024, 12, 4, 8, tzinfo=UTC),
        "China's Commerce Ministry on Tuesday banned exports of gallium, germanium and antimony "
        "to the United States.",
    ),
]
CHINESE_ANNOUNCEMENTS = [
    ("https://www.mofcom.gov.cn/zcfb/18", datetime(2025, 4, 4, 10, tzinfo=UTC), RARE_EARTHS),
    ("https://www.mofcom.gov.cn/zcfb/46", datetime(2024, 12, 3, 10, tzinfo=UTC), BAN_TO_US),
]


def test_an_announcement_and_an_english_report_of_it_are_one_event(
    database_url: str, extractor: Extractor
) -> None:
    """MOFCOM's announcement in Chinese and an English article about the same act end as one
    stored event, with mentions in both languages and the announcement's instrument."""
    session_factory = ready(database_url)
    ids = two_sources(session_factory)
    stored = [
        *((url, day, text, "zh", ids["first"]) for url, day, text in CHINESE_ANNOUNCEMENTS),
        *((url, day, text, "en", ids["second"]) for url, day, text in ENGLISH_REPORTS),
    ]
    for url, day, text, language, source in stored:
        with unit_of_work(session_factory) as session:
            article_id = add_article(
                session,
                NewArticle(
                    url=url,
                    source_id=source,
                    title="",
                    published_at=day,
                    text=text,
                    language=language,
                    text_extractor="feed",
                ),
            )
        assert article_id is not None
        [annotation] = extractor.annotate([ArticleText(url, text, "", day, language)])
        with unit_of_work(session_factory) as session:
            save_annotation(session, article_id, annotation)
    with unit_of_work(session_factory) as session:
        for measure, elements, instrument in (
            ("export_control", set(SEVEN), "MOFCOM Announcement No. 18 of 2025"),
            (
                "export_ban",
                {"gallium", "germanium", "antimony"},
                "MOFCOM Announcement No. 46 of 2024",
            ),
        ):
            [event] = session.scalars(
                select(Event).where(Event.action == "impose", Event.measure == measure)
            ).all()
            languages = set(
                session.scalars(
                    select(Article.language)
                    .join(Mention, Mention.article_id == Article.id)
                    .where(Mention.event_id == event.id)
                )
            )
            assert languages == {"zh", "en"}
            assert (event.actor, event.article_count, event.source_count) == ("CN", 2, 2)
            assert event.instrument == instrument
            named = session.scalars(
                select(EventElement.element).where(EventElement.event_id == event.id)
            )
            assert set(named) == elements
