"""How commands print: a summary as text or JSON, and rows as a table, CSV, JSON or JSON lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Collection
from datetime import date, datetime
from typing import Any, TextIO

from pipeline.text.terminal import printable

CELL_WIDTH = 60  # characters of a table cell shown before it is cut (status --wide shows all)
# Columns that hold comma-separated lists (the views' elements, targets and conflicts; recipients):
# JSON output gives them as arrays.
LIST_COLUMNS = frozenset({"elements", "targets", "conflicts", "recipients"})
FORMATS = ("table", "csv", "json", "jsonl")


def print_summary(as_json: bool, report: dict[str, Any], text: str) -> None:
    """The report as JSON, or the text for people."""
    if as_json:
        print(json.dumps(report, indent=2, default=_json_default))
    else:
        print(text)


def _json_default(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def write_rows(
    stream: TextIO,
    output_format: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    list_columns: Collection[str] = LIST_COLUMNS,
) -> None:
    """Rows as a table, CSV or JSON; in JSON, list columns are arrays and empty values null."""
    if output_format in ("json", "jsonl"):
        objects = [
            {
                column: _json_value(value, column in list_columns)
                for column, value in zip(columns, row, strict=True)
            }
            for row in rows
        ]
        if output_format == "json":
            stream.write(json.dumps(objects, indent=2, default=str) + "\n")
        else:
            stream.writelines(json.dumps(item, default=str) + "\n" for item in objects)
        return
    if output_format == "csv":
        # Quoted fields may hold line breaks and tabs; no other control character is printed.
        writer = csv.writer(stream)
        writer.writerow(printable(column, keep="\n\t") for column in columns)
        writer.writerows(
            [printable(value, keep="\n\t") if isinstance(value, str) else value for value in row]
            for row in rows
        )
    else:
        write_table(stream, columns, rows)


def _json_value(value: object, is_list: bool) -> object:
    """A value as JSON shows it: a list column's comma-separated text as an array; empty as null."""
    if is_list and isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    return None if value in ("", []) else value


def write_table(
    stream: TextIO,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    cell_width: int | None = CELL_WIDTH,
) -> None:
    """A plain-text table; cells longer than `cell_width` are cut with "…" (None: never).

    Control characters, line breaks and tabs among them, are printed as escapes (\\x1b, \\n).
    """
    columns = [printable(column) for column in columns]
    cells = [["" if value is None else printable(str(value)) for value in row] for row in rows]
    widths = [
        max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)
    ]
    if cell_width is not None:
        widths = [min(cell_width, width) for width in widths]
    stream.write(
        "  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)) + "\n"
    )
    stream.write("  ".join("-" * width for width in widths) + "\n")
    for row in cells:
        shown = [
            value if len(value) <= width else value[: width - 1] + "…"
            for value, width in zip(row, widths, strict=True)
        ]
        stream.write(
            "  ".join(
                value.ljust(width) for value, width in zip(shown, widths, strict=True)
            ).rstrip()
            + "\n"
        )
    stream.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")
