"""The writing of Chinese announcements as plain text: sentences, clauses, titles and quotes,
dates with their roles, spans of time, counts of parties and percentages."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from models.vocabulary.chinese import Writing
from pipeline.text.dates import add_duration

Span = tuple[int, int]
MAX_QUOTE_CHARS = 600  # a quote left open ends here, so one stray mark cannot swallow the text
BLANK = " \t\r\n\u3000"  # spaces, line breaks and the full-width space


@dataclass(frozen=True)
class FoundDate:
    """A calendar date in the text, with the role its surrounding words give it."""

    value: date
    role: str  # announced | effective | expires | recalled
    text: str
    start: int


@dataclass(frozen=True)
class Count:
    """A count of parties ("28家美国实体"): how many, of what, and the words between."""

    value: int
    unit: str
    text: str
    start: int
    end: int
    between: Span  # where the words between the count and its noun lie ("美国")


class ChineseWriting:
    """The patterns of zh/text.yaml, compiled once."""

    def __init__(self, writing: Writing) -> None:
        self.writing = writing
        self._date_patterns = [re.compile(pattern) for pattern in writing.dates]
        self.list_item = re.compile(writing.list_item, re.MULTILINE)
        self.duration = re.compile(writing.duration_pattern)
        self.count = re.compile(writing.count_pattern)
        self.percent = re.compile(writing.percent)
        labels = "|".join(re.escape(label) for label in writing.own_date_labels) or "(?!)"
        self.own_label = re.compile(rf"(?:{labels})\s*[:：]\s*")

    def sentences(self, text: str) -> list[Span]:
        """Sentences: ended by a sentence mark outside quotes, or by a line break; spaces trimmed."""
        ends, quotes = self.writing.sentence_ends, self.writing.quotes
        spans: list[Span] = []
        start = 0
        closing: str | None = None
        opened = 0
        for index, character in enumerate(text):
            if closing is not None and (
                character == closing or character == "\n" or index - opened > MAX_QUOTE_CHARS
            ):
                closing = None
                if character != "\n":
                    continue
            elif closing is None and character in quotes:
                closing, opened = quotes[character], index
                continue
            if character == "\n" or (closing is None and character in ends):
                spans.append(trimmed(text, start, index + (character != "\n")))
                start = index + 1
        spans.append(trimmed(text, start, len(text)))
        return [span for span in spans if span[0] < span[1]]

    def enclosed(self, text: str, pairs: Mapping[str, str]) -> list[Span]:
        """The spans inside pairs of marks (titles in 《》, quotes), marks included."""
        spans: list[Span] = []
        closing: str | None = None
        opened = 0
        for index, character in enumerate(text):
            if closing is not None and (character == closing or character == "\n"):
                spans.append((opened, index + 1))
                closing = None
            elif closing is None and character in pairs:
                closing, opened = pairs[character], index
        return spans

    def clauses(self, text: str, start: int, end: int) -> list[Span]:
        """The clauses of a sentence: its parts between clause marks, spaces trimmed."""
        spans, begin = [], start
        for index in range(start, end):
            if text[index] in self.writing.clause_marks:
                spans.append(trimmed(text, begin, index))
                begin = index + 1
        spans.append(trimmed(text, begin, end))
        return [span for span in spans if span[0] < span[1]]

    def segments(self, text: str, start: int, end: int) -> list[Span]:
        """The parts of a sentence between sentence marks, quotes or not (a semicolon too)."""
        spans, begin = [], start
        for index in range(start, end):
            if text[index] in self.writing.sentence_ends:
                spans.append((begin, index + 1))
                begin = index + 1
        spans.append((begin, end))
        return [span for span in spans if span[0] < span[1]]

    def preambles(self, text: str, start: int, end: int) -> list[Span]:
        """The clauses of a sentence that give grounds (为维护国家安全和利益), not the act."""
        found = []
        for clause_start, clause_end in self.clauses(text, start, end):
            opening = self.list_item.sub("", text[clause_start:clause_end]).lstrip(BLANK)
            if opening.startswith(self.writing.preambles):
                found.append((clause_start, clause_end))
        return found

    def dates(
        self, text: str, start: int = 0, end: int | None = None, published: date | None = None
    ) -> Iterator[FoundDate]:
        """The dates between two offsets, each with its role by the words around it; a date
        without a year takes the year `published` gives it."""
        end = len(text) if end is None else end
        writing = self.writing
        taken: list[Span] = []
        for pattern in self._date_patterns:
            for match in pattern.finditer(text, start, end):
                if any(first < match.end() and match.start() < last for first, last in taken):
                    continue  # 4月4日 inside 2025年4月4日
                taken.append(match.span())
                before = text[max(start, match.start() - 3) : match.start()].rstrip(BLANK)
                after = text[match.end() : min(end, match.end() + 5)].lstrip(BLANK)
                role = "announced"
                if before.endswith(writing.expiry_leads) or after.startswith(writing.expiry_trails):
                    role = "expires"
                elif after.startswith(writing.recalled_trails):
                    role = "recalled"
                elif before.endswith(writing.effective_leads) or after.startswith(
                    writing.effective_trails
                ):
                    role = "effective"
                value = _date_of(match, published, forward=role in ("effective", "expires"))
                if value is not None:
                    yield FoundDate(value, role, match.group(0), match.start())

    def own_date(self, text: str) -> FoundDate | None:
        """The text's own date: a labelled one (发布日期), else the last line that is only a date."""
        for label in self.own_label.finditer(text):
            found = next(self.dates(text, label.end(), label.end() + 20), None)
            if found is not None and found.start == label.end():
                return FoundDate(found.value, "announced", found.text, found.start)
        lines = list(re.finditer(r"[^\n]+", text))
        for line in reversed(lines):
            start, end = trimmed(text, line.start(), line.end())
            for pattern in self._date_patterns:
                match = pattern.fullmatch(text, start, end)
                value = _date_of(match, None) if match else None
                if match and value is not None:
                    return FoundDate(value, "announced", match.group(0), start)
        return None

    def from_publication(self, text: str, start: int, end: int) -> str | None:
        """The phrase that says an act applies from its publication day (自公布之日起), if any."""
        piece = text[start:end]
        return next((phrase for phrase in self.writing.from_publication if phrase in piece), None)

    def expiry_after(self, text: str, start: int, end: int, begins: date) -> FoundDate | None:
        """The day a span of time stated between two offsets ends (为期90天), counted from `begins`."""
        match = self.duration.search(text, start, end)
        if match is None:
            return None
        count = numeral_value(match["count"], self.writing.numerals)
        unit = self.writing.duration_units.get(match["unit"])
        if count is None or unit is None:
            return None
        ends = add_duration(begins, f"{count} {unit}")
        return FoundDate(ends, "expires", match.group(0), match.start()) if ends else None

    def counts(self, text: str) -> Iterator[Count]:
        """Counts of parties ("28家美国实体", "十七家实体")."""
        for match in self.count.finditer(text):
            value = numeral_value(match["count"], self.writing.numerals)
            unit = self.writing.count_nouns.get(match["noun"])
            if value is not None and unit is not None:
                yield Count(
                    value, unit, match.group(0), match.start(), match.end(), match.span("between")
                )

    def durations(self, text: str) -> Iterator[tuple[float, str, str, int, int]]:
        """Spans of time: value, English unit, text and offsets (为期90天: 90, days)."""
        for match in self.duration.finditer(text):
            value = numeral_value(match["count"], self.writing.numerals)
            unit = self.writing.duration_units.get(match["unit"])
            if value is not None and unit is not None:
                yield float(value), unit, match.group(0), match.start(), match.end()

    def percentages(self, text: str) -> Iterator[tuple[float, str, int, int]]:
        """Percentages: value, text and offsets (34%)."""
        for match in self.percent.finditer(text):
            yield float(match["value"]), match.group(0), match.start(), match.end()


def trimmed(text: str, start: int, end: int) -> Span:
    """Offsets with the spaces and line breaks at either end left out."""
    while start < end and text[start] in BLANK:
        start += 1
    while end > start and text[end - 1] in BLANK:
        end -= 1
    return start, end


def within(spans: list[Span], start: int, end: int) -> bool:
    """Whether a stretch lies inside one of the spans."""
    return any(first <= start and end <= last for first, last in spans)


def numeral_value(text: str, numerals: Mapping[str, int]) -> int | None:
    """The value of a number in digits or Chinese numerals ("28", "十七", "二十八", "一百零五")."""
    if text.isdigit():
        return int(text)
    total = current = 0
    for character in text:
        value = numerals.get(character)
        if value is None:
            return None
        if value >= 10:
            total += (current or 1) * value
            current = 0
        else:
            current = current * 10 + value
    return total + current


def _date_of(
    match: re.Match[str] | None, published: date | None, forward: bool = False
) -> date | None:
    """The date a match of a date pattern names, if it is a real one. Without a year it takes
    the publication's: the one before when that puts a past date after publication, the one
    after when that puts a date an act starts or ends from before it."""
    if match is None:
        return None
    groups = match.groupdict()
    try:
        month, day = int(groups["month"]), int(groups["day"])
        if groups.get("year"):
            return date(int(groups["year"]), month, day)
        if published is None:
            return None
        value = date(published.year, month, day)
    except ValueError:
        return None
    if forward and value < published:
        return _safe(value.year + 1, month, day)
    if not forward and value > published:
        return _safe(value.year - 1, month, day)
    return value


def _safe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
