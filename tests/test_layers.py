"""The layout's rules, read from the source with `ast`: who may import whom, where words live, sizes."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from models import Base
from models.vocabulary import (
    ACTIONS,
    ANNOTATION_STATUSES,
    MEASURES,
    MODALITIES,
    PARTS,
    STATES,
    load_vocabulary,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "storage", "pipeline")
CODE = (*PACKAGES, "bench")
STORAGE_MAY_IMPORT = {"models", "storage", "sqlalchemy", "alembic", "psycopg", "procrastinate"}
NO_DATABASE = ("pipeline/fetching", "pipeline/extraction", "pipeline/text")
SETTINGS_MODULE = "pipeline/config/settings.py"
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 250
MIN_LIST = 3  # strings in one literal before it counts as a list of words
WORD = re.compile(r"[a-z][a-z' -]*[a-z]")
ALTERNATION = re.compile(r"\(\??:?((?:[a-z][a-z' -]*\|){2,}[a-z][a-z' -]*)\)")
# Names of protocols and formats that happen to be spelled like words: HTML elements, SQL and
# HTTP keywords, encodings, TLS modes, WordPress paths, output formats. They name things a program
# speaks, not words a text is read for, so they stay in code.
TECHNICAL = frozenset(
    {
        *[
            "html",
            "body",
            "head",
            "article",
            "main",
            "section",
            "aside",
            "nav",
            "header",
            "footer",
            "script",
            "style",
            "noscript",
        ],
        *[
            "iframe",
            "form",
            "svg",
            "template",
            "figure",
            "figcaption",
            "button",
            "select",
            "option",
            "input",
        ],
        *[
            "begin",
            "start",
            "commit",
            "end",
            "rollback",
            "abort",
            "savepoint",
            "release",
            "set",
            "reset",
            "discard",
            "load",
        ],
        *["gzip", "x-gzip", "deflate", "br", "identity", "starttls", "ssl", "none"],
        *["feed", "comments", "category", "tag", "author", "page"],
        *["table", "csv", "json", "jsonl", "text", "int"],
        *["ix", "uq", "ck", "fk", "pk"],
        *["forbid", "allow", "replace"],
        *["prepare", "execute", "deallocate"],
        *["true", "false", "yes", "no", "on", "off"],
        *["ascii", "us-ascii", "gbk", "x-gbk", "mac-roman", "mac-cyrillic"],
        *["fbclid", "gclid", "ref", "cmpid", "taid", "smid", "ito"],
        *["content-security-policy", "x-content-type-options", "x-frame-options"],
        *["referrer-policy", "cross-origin-opener-policy"],
    }
)


def _modules(*roots: str) -> Iterator[Path]:
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def _stdlib(module: str) -> bool:
    import sys

    return module.split(".")[0] in sys.stdlib_module_names or module == "__future__"


@cache
def _identifiers() -> frozenset[str]:
    """Words that are newstrack's own names: columns, vocabulary ids, record fields."""
    vocabulary = load_vocabulary()
    names = {column.name for table in Base.metadata.tables.values() for column in table.columns}
    names |= set(Base.metadata.tables)
    names |= {*ACTIONS, *MEASURES, *MODALITIES, *PARTS, *vocabulary.forms}
    names |= {*STATES, *ANNOTATION_STATUSES}
    names |= {element.name for element in vocabulary.elements}
    names |= {group.name for group in vocabulary.groups}
    for path in _modules(*PACKAGES):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef):
                names |= {
                    item.target.id
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                }
    return frozenset(name.replace("_", " ") for name in names) | frozenset(names)


def _is_word(text: str) -> bool:
    return bool(WORD.fullmatch(text)) and text not in TECHNICAL and text not in _identifiers()


def _word_lists(path: Path) -> Iterator[tuple[int, list[str]]]:
    for node in ast.walk(_tree(path)):
        items: list[ast.expr | None] = []
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = list(node.elts)
        elif isinstance(node, ast.Dict):
            items = list(node.keys)
        strings = [
            item.value
            for item in items
            if isinstance(item, ast.Constant) and isinstance(item.value, str)
        ]
        words = [text for text in strings if _is_word(text)]
        if len(words) >= MIN_LIST:
            yield node.lineno, words
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for group in ALTERNATION.findall(node.value):
                alternatives = [text for text in group.split("|") if _is_word(text)]
                if len(alternatives) >= MIN_LIST:
                    yield node.lineno, alternatives


def test_storage_imports_only_models() -> None:
    """Rule 1: storage sees models, its own modules, the database libraries and the standard library."""
    found = [
        f"{_name(path)}:{line}: {module}"
        for path in _modules("storage")
        for line, module in _imports(path)
        if not _stdlib(module) and module.split(".")[0] not in STORAGE_MAY_IMPORT
    ]
    assert found == []


def test_fetching_extraction_and_text_never_touch_the_database() -> None:
    """Rule 2: fetching, extraction and the text helpers import neither storage nor SQLAlchemy."""
    found = [
        f"{_name(path)}:{line}: {module}"
        for path in _modules(*NO_DATABASE)
        for line, module in _imports(path)
        if module.split(".")[0] in {"storage", "sqlalchemy", "alembic", "psycopg"}
    ]
    assert found == []


def test_nothing_imports_the_command_line() -> None:
    """Rule 3: the CLI is the top; no other module imports it."""
    found = [
        f"{_name(path)}:{line}: {module}"
        for path in _modules(*CODE)
        if not _name(path).startswith("pipeline/cli/")
        for line, module in _imports(path)
        if module == "pipeline.cli" or module.startswith("pipeline.cli.")
    ]
    assert found == []


def test_words_live_in_the_vocabulary() -> None:
    """Rule 4: no module holds a list of English words; they belong in models/vocabulary/."""
    found = [
        f"{_name(path)}:{line}: {words}"
        for path in _modules(*CODE)
        for line, words in _word_lists(path)
    ]
    assert found == []


def test_only_the_settings_module_reads_the_environment() -> None:
    """Rule 5: one reader of the environment."""
    found = []
    for path in _modules(*PACKAGES):
        if _name(path) == SETTINGS_MODULE:
            continue
        for node in ast.walk(_tree(path)):
            reads = (isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}) or (
                isinstance(node, ast.Name) and node.id in {"environ", "getenv"}
            )
            if reads:
                found.append(f"{_name(path)}:{node.lineno}")
    assert found == []


def test_modules_and_classes_stay_small() -> None:
    """Rule 6: no module passes 500 lines and no class 250."""
    found = []
    for path in _modules(*CODE):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{_name(path)}: {lines} lines")
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef) and node.end_lineno:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    found.append(f"{_name(path)}:{node.lineno}: class {node.name}, {length} lines")
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from pipeline.flows import fetch\n", ["pipeline.flows", "pipeline.flows.fetch"]),
        ("import sqlalchemy.orm\n", ["sqlalchemy.orm"]),
    ],
)
def test_imports_are_read_from_both_forms(tmp_path: Path, source: str, expected: list[str]) -> None:
    """The import reader sees `import a.b` and `from a import b`, so a rule cannot be dodged by form."""
    path = tmp_path / "module.py"
    path.write_text(source)
    assert [module for _, module in _imports(path)] == expected


def test_a_word_list_is_found_in_a_literal_and_in_a_pattern(tmp_path: Path) -> None:
    """The word-list reader finds cue words in a set and in a regular expression's alternation."""
    path = tmp_path / "module.py"
    path.write_text(
        'CUES = frozenset({"pledge", "warn", "vow"})\n'
        'PATTERN = r"\\b(these|those|such) materials"\n'
        'COLUMNS = ("title", "url", "published")\n'
    )
    assert sorted(sorted(words) for _, words in _word_lists(path)) == [
        ["pledge", "vow", "warn"],
        ["such", "these", "those"],
    ]
