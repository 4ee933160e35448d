"""Language of article texts: the words decide when they are clear, the page's declaration otherwise."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from models.source import ArticleSelectors
from pipeline.fetching.pages import extract_page
from pipeline.text import language
from pipeline.text.language import declared_language, detect_language

ENGLISH = (
    "China's Ministry of Commerce said on Wednesday it would keep the export ban on seven rare "
    "earths it imposed on April 4, while suspending export controls on 28 U.S. companies for 90 "
    "days. Magnet makers in Japan and Europe still wait weeks for licences."
)
CHINESE = (
    "商务部新闻发言人表示，中方决定暂停对28家美国实体的出口管制措施，为期90天。"
    "同时，对钐、钆、铽、镝、镥、钪、钇等七种中重稀土相关物项的出口管制措施继续实施。"
    "中方愿与各方共同维护全球产业链供应链稳定。商务部将依法审查出口许可申请。"
    "有关企业应当依法履行出口申报义务，对于符合规定的申请将予以许可。"
    "中方一贯致力于维护全球产业链供应链的安全稳定，愿同各国加强出口管制领域的对话与合作。"
)
BOUND = 120.0  # seconds a background load may take before the test fails, on a busy host
FRENCH = (
    "Le ministère chinois du Commerce a annoncé mercredi la suspension pour quatre-vingt-dix jours "
    "des contrôles à l'exportation visant vingt-huit entreprises américaines, tout en maintenant "
    "l'interdiction d'exporter sept terres rares imposée le quatre avril dernier."
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("en-US", "en"), ("zh_CN", "zh"), (" FR ", "fr"), ("", None), (None, None), ("12", None)],
)
def test_declared_language_is_an_iso_code(value: object, expected: str | None) -> None:
    """`lang` attributes and feed fields become two- or three-letter codes."""
    assert declared_language(value) == expected


@pytest.mark.parametrize(("text", "expected"), [(ENGLISH, "en"), (CHINESE, "zh"), (FRENCH, "fr")])
def test_clear_text_overrules_a_wrong_declaration(text: str, expected: str) -> None:
    """A page template that says lang="en" around Chinese text is Chinese, and the reverse."""
    wrong = "de"
    assert detect_language(text, wrong) == expected
    assert detect_language(text) == expected


def test_short_text_keeps_the_declaration() -> None:
    """A line of element names is too short to classify; the page's own language stands."""
    names = "Samarium, gadolinium, terbium, dysprosium, lutetium, scandium and yttrium"
    assert detect_language(names, "en-GB") == "en"
    assert detect_language(names) is None


def test_page_language_comes_from_its_text() -> None:
    """extract_page reports the language of the text it found, not of the template."""
    html = f'<html lang="en"><body><div class="c"><p>{CHINESE}</p></div></body></html>'
    page = extract_page(html.encode(), "https://e.org/a", ArticleSelectors(text="div.c"))
    assert page.language == "zh"


def test_threads_meeting_their_first_article_load_the_model_once() -> None:
    """Eight fetch threads classifying at once share one model (it weighs about 100 MB)."""
    language._load_identifier.cache_clear()
    barrier = threading.Barrier(8)

    def classify() -> str | None:
        barrier.wait()
        return detect_language(ENGLISH)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: classify(), range(8)))
    assert results == ["en"] * 8
    assert language._load_identifier.cache_info().misses == 1


def test_the_model_loads_in_the_background_before_any_text_is_read() -> None:
    """Loading started ahead puts the model in memory with no text read; a text read meanwhile
    waits for that load instead of starting its own."""
    language._load_identifier.cache_clear()
    language.load_classifier_in_background()
    assert detect_language(ENGLISH) == "en"  # read at once: the load in the thread is shared
    assert language._load_identifier.cache_info().misses == 1
    language._load_identifier.cache_clear()
    language.load_classifier_in_background()
    deadline = time.monotonic() + BOUND
    while language._load_identifier.cache_info().currsize == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert language._load_identifier.cache_info().currsize == 1  # loaded, and nothing was read


@pytest.mark.parametrize(
    "text",
    [
        "商务部公告2025年第70号\n暂停实施商务部公告2024年第46号第二款，至2026年11月27日止。",
        "不可靠实体清单工作机制决定，将11家美国实体列入不可靠实体清单。",
    ],
)
def test_short_chinese_is_chinese_by_its_script(text: str) -> None:
    """An announcement's heading and decision are too short for the classifier, not for the script."""
    assert len(text.encode("utf-8")) < language.MIN_BYTES
    assert detect_language(text) == "zh"
    assert detect_language(text, "en") == "zh"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "経済産業省は、ガリウムとゲルマニウムの輸出管理を強化すると発表しました。日本政府は"
            "中国の輸出規制への対応を検討しており、企業は在庫の確保を急いでいます。",
            "ja",
        ),
        (
            "On 3 July 2023, China's Ministry of Commerce issued the Announcement on Export Control "
            "of Gallium and Germanium-Related Items (关于对镓、锗相关物项实施出口管制的公告), which "
            "requires licences for exports of eight gallium and six germanium products from August.",
            "en",
        ),
    ],
)
def test_han_characters_in_other_languages_are_not_chinese(text: str, expected: str) -> None:
    """Japanese writes kana among its Han characters; an English text may quote a Chinese title."""
    assert detect_language(text, expected) == expected
