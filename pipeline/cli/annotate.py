"""Reading text without a database: `article` shows a saved page, `annotate` extracts from JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from models.annotation import Annotation, ArticleText, QuantityTag
from models.errors import InputError
from models.source import ArticleSelectors
from pipeline.cli.arguments import SuggestingParser
from pipeline.cli.base import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, Context, load_extractor, log
from pipeline.config.sources import load_sources, selectors_for

if TYPE_CHECKING:
    from pipeline.extraction import Extractor

    from .base import Subcommands

BATCH = 64  # lines the extractor reads at a time


def add_article(commands: Subcommands, common: SuggestingParser) -> None:
    """`article`: what newstrack reads in one saved page."""
    article = commands.add_parser(
        "article", parents=[common], help="show what newstrack reads in one saved article page"
    )
    article.add_argument("file", type=Path, help="a saved HTML page")
    article.add_argument(
        "--url", help="the page's URL: resolves links and picks the selectors of a matching source"
    )
    article.set_defaults(handler=command_article)


def add_annotate(commands: Subcommands, common: SuggestingParser) -> None:
    """`annotate`: the extractor on JSON lines."""
    annotate = commands.add_parser(
        "annotate", parents=[common], help="run the extractor on JSON lines (no database needed)"
    )
    annotate.add_argument(
        "input", nargs="?", default="-", help="JSON lines file (default: standard input)"
    )
    annotate.add_argument(
        "-o", "--output", default="-", help="output file (default: standard output)"
    )
    annotate.set_defaults(handler=command_annotate)


def command_article(args: argparse.Namespace, context: Context) -> int:
    """Extract title, date, text and language from one saved page, as the fetcher would."""
    from pipeline.fetching.pages import extract_page

    try:
        body = args.file.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {args.file}: {error.strerror}") from None
    url = args.url or args.file.resolve().as_uri()
    selectors = ArticleSelectors()
    sources_path = context.settings.sources_path
    if args.url and sources_path.is_file():
        selectors = selectors_for(load_sources(sources_path), args.url)
    page = extract_page(body, url, selectors)
    report = {
        "title": page.title,
        "published": page.published.isoformat() if page.published else None,
        "text": page.text,
        "language": page.language,
        "text_extractor": page.text_extractor,
    }
    if context.as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        header = [
            f"{key}: {report[key]}" for key in ("title", "published", "language", "text_extractor")
        ]
        print("\n".join(header) + "\n\n" + page.text)
    return EXIT_OK


def command_annotate(args: argparse.Namespace, context: Context) -> int:
    """Annotate JSON lines; a bad line is reported by number and the rest go on."""
    extractor = load_extractor(context.settings)
    failures = successes = 0
    with ExitStack() as stack:
        # Bytes, decoded line by line: a line that is not UTF-8 is that line's error alone.
        source: Iterator[bytes | str] = (
            getattr(sys.stdin, "buffer", sys.stdin)
            if args.input == "-"
            else stack.enter_context(_open_input(args.input))
        )
        target = (
            sys.stdout
            if args.output == "-"
            else stack.enter_context(open(args.output, "w", encoding="utf-8"))
        )
        batch: list[ArticleText] = []
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                batch.append(_article_of_line(line, number))
            except InputError as error:
                print(f"newstrack: annotate: {error}", file=sys.stderr)
                failures += 1
                continue
            if len(batch) >= BATCH:
                written = _annotate_batch(extractor, batch, target)
                successes, failures, batch = (
                    successes + written,
                    failures + len(batch) - written,
                    [],
                )
        written = _annotate_batch(extractor, batch, target)
        successes, failures = successes + written, failures + len(batch) - written
    if failures:
        return EXIT_PARTIAL if successes else EXIT_FAILURE
    return EXIT_OK


def _open_input(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None


def _article_of_line(raw: bytes | str, number: int) -> ArticleText:
    """One input line as a text to annotate; whatever is wrong with it is an InputError naming it."""
    try:
        return _read_line(raw, number)
    except InputError:
        raise
    except Exception as error:  # anything else a hostile line sets off is still that line's error
        log.debug("annotate: line %d not read", number, exc_info=True)
        raise InputError(f"line {number}: not read ({type(error).__name__})") from None


def _read_line(raw: bytes | str, number: int) -> ArticleText:
    from pipeline.fetching.times import parse_datetime

    try:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise InputError(f"line {number}: not UTF-8 (byte {error.start + 1})") from None
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"line {number}: not JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise InputError(f"line {number}: not JSON (nested too deeply)") from None
    except ValueError as error:  # an integer of more digits than Python converts
        reason = str(error).split(";")[0]  # Python's advice on its own limit is not the user's
        raise InputError(f"line {number}: not JSON ({reason})") from None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise InputError(f'line {number}: expected an object with a "text" string')
    published = item.get("published")
    return ArticleText(
        id=str(item.get("id", number)),
        text=item["text"],
        title=str(item.get("title") or ""),
        published=parse_datetime(published) if isinstance(published, str) else None,
    )


def _annotate_batch(extractor: Extractor, batch: list[ArticleText], target: TextIO) -> int:
    """Write each text's annotation; a text the extractor fails on is reported and skipped."""
    written = 0
    for article, annotation in zip(batch, extractor.annotate_each(batch), strict=True):
        if isinstance(annotation, Exception):
            print(f"newstrack: annotate: {article.id}: {annotation}", file=sys.stderr)
            continue
        target.write(json.dumps(annotation_to_json(annotation), ensure_ascii=False) + "\n")
        written += 1
    target.flush()
    return written


def annotation_to_json(annotation: Annotation) -> dict[str, Any]:
    """The `annotate` output contract of one annotation."""
    return {
        "id": annotation.id,
        "status": annotation.status,
        "note": annotation.note,
        "on_topic": annotation.on_topic,
        "elements": annotation.elements,
        "groups": annotation.groups,
        "countries": annotation.countries,
        "orgs": annotation.orgs,
        "events": [
            {
                "actor": event.actor,
                "actor_body": event.actor_body,
                "action": event.action,
                "measure": event.measure,
                "elements": list(event.elements),
                "target": event.target,
                "target_count": event.target_count,
                "target_unit": event.target_unit,
                "instrument": event.instrument,
                "quantities": [_quantity_json(q) for q in event.quantities],
                "dates": [
                    {"date": d.value.isoformat(), "role": d.role, "text": d.text}
                    for d in event.dates
                ],
                "evidence": event.evidence.sentence,
                "evidence_start": event.evidence.start,
                "evidence_end": event.evidence.end,
                "reported_label": event.evidence.reported_label,
                "modality": event.evidence.modality,
                "confidence": event.evidence.confidence,
            }
            for event in annotation.events
        ],
        "candidates": [  # acts held below the event threshold: not events
            {
                "actor": held.actor,
                "action": held.action,
                "measure": held.measure,
                "evidence": held.evidence.sentence,
                "confidence": held.evidence.confidence,
            }
            for held in annotation.candidates
        ],
        "quantities": [_quantity_json(q) for q in annotation.quantities],
    }


def _quantity_json(quantity: QuantityTag) -> dict[str, Any]:
    return {
        "value": quantity.value,
        "unit": quantity.unit,
        "qualifier": quantity.qualifier,
        "text": quantity.text,
    }
