"""Command-line typos: "did you mean", in the usage of the command the user typed."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from pipeline.cli import build_parser, check_newstrack_command, main
from pipeline.cli.arguments import NumberType


def _usage_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """The standard error of a command line that argparse refuses with exit code 2."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(list(words))
    assert stopped.value.code == 2
    return capsys.readouterr().err


def test_a_misspelt_option_gets_the_subcommands_usage_and_a_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`status --elemnt Dy` prints `status`'s usage and suggests --element."""
    err = _usage_error(capsys, "status", "--elemnt", "Dy")
    assert err.startswith("usage: newstrack status ")
    assert err.strip().endswith(
        "newstrack status: error: unrecognized arguments: --elemnt Dy; did you mean --element?"
    )


def test_a_misspelt_option_of_a_nested_command_is_named_before_what_it_leaves_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`watchlist add x --recipent ...` names the typo, not the --recipient it left out."""
    err = _usage_error(capsys, "watchlist", "add", "x", "--recipent", "a@example.com")
    assert err.startswith("usage: newstrack watchlist add ")
    assert "unrecognized arguments: --recipent; did you mean --recipient?" in err


@pytest.mark.parametrize(
    ("words", "usage", "suggestion"),
    [
        (["stauts"], "usage: newstrack [", "invalid choice: 'stauts'; did you mean status?"),
        (["watchlist", "ad"], "usage: newstrack watchlist [", "did you mean add?"),
        (["cron", "rendr"], "usage: newstrack cron [", "did you mean render?"),
        (["status", "--format", "jsn"], "usage: newstrack status", "did you mean json or jsonl?"),
        (["--jsn", "status"], "usage: newstrack [", "did you mean --json?"),
    ],
)
def test_a_misspelt_command_or_choice_gets_the_close_names(
    capsys: pytest.CaptureFixture[str], words: list[str], usage: str, suggestion: str
) -> None:
    """Commands, subcommands and choices suggest what was probably meant."""
    err = _usage_error(capsys, *words)
    assert err.startswith(usage) and suggestion in err, err


def test_an_unknown_word_with_no_close_name_is_still_reported_by_its_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A stray word gets the command's usage and no made-up suggestion."""
    err = _usage_error(capsys, "status", "whatever")
    assert err.startswith("usage: newstrack status ")
    assert err.strip().endswith("unrecognized arguments: whatever")


def test_abbreviations_attached_values_and_negative_numbers_still_parse() -> None:
    """What argparse accepts stays accepted: `--elem`, `-pname=value`, `--on` with its value."""
    parser = build_parser()
    args = parser.parse_args(["status", "--elem", "Dy", "--on", "2025-12-01"])
    assert args.element == "Dy"
    assert parser.parse_args(["sql", "in-force", "-pday=2025-12-01"]).param == ["day=2025-12-01"]


def test_cron_yaml_checks_see_the_suggestion() -> None:
    """A cron.yaml job naming a misspelt command is told what it probably meant."""
    assert check_newstrack_command(["digest", "sendd"]) == (
        "argument ACTION: invalid choice: 'sendd'; did you mean send? (choose from send, preview)"
    )
    assert check_newstrack_command(["digest", "send"]) is None


def _actions(
    parser: argparse.ArgumentParser, command: str = "newstrack"
) -> Iterator[tuple[str, argparse.Action]]:
    """Every option and argument of every command, with the command's name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, chosen in action.choices.items():
                yield from _actions(chosen, f"{command} {name}")
        else:
            yield command, action


def test_every_numeric_option_takes_a_checked_number_type() -> None:
    """No option parses with bare int or float, which let nan, inf, 0.5 and -1 through."""
    numeric = [
        (command, action.option_strings or [action.dest])
        for command, action in _actions(build_parser())
        if isinstance(action.type, NumberType)
    ]
    bare = [
        (command, action.option_strings or [action.dest])
        for command, action in _actions(build_parser())
        if action.type in (int, float)
    ]
    assert bare == []
    assert len(numeric) >= 10  # --limit (twice), --time-limit, --max-rows, --count, ...
    unexplained = [
        (command, action.option_strings)
        for command, action in _actions(build_parser())
        if isinstance(action.type, NumberType)
        and action.type.kind.describe() not in (action.help or "")
        and action.option_strings != ["--retry"]  # an id: any the queue gave
    ]
    assert unexplained == []  # --help says what each number may be


@pytest.mark.parametrize(
    ("words", "message"),
    [
        # the values of issue 17: no limit on SQLite and a traceback on PostgreSQL, or two meanings
        (["--time-limit", "nan"], "argument --time-limit: expected a number of seconds more than 0 up to 86400, got 'nan'"),
        (["--time-limit", "inf"], "argument --time-limit: expected a number of seconds more than 0 up to 86400, got 'inf'"),
        (["--time-limit", "0"], "argument --time-limit: expected a number of seconds more than 0 up to 86400, got '0'"),
        (["--time-limit=-1"], "argument --time-limit: expected a number of seconds more than 0 up to 86400, got '-1'"),
        (["--time-limit", "86401"], "up to 86400, got '86401'"),
        (["--max-rows", "-1"], "argument --max-rows: expected a whole number from 1 to 10000000, or 0 for no cap, got '-1'"),
        (["--max-rows=-1"], "or 0 for no cap, got '-1'"),
        (["--max-rows", "1.5"], "or 0 for no cap, got '1.5'"),
        (["--max-rows", "nan"], "or 0 for no cap, got 'nan'"),
        (["--max-rows", "1e400"], "or 0 for no cap, got '1e400'"),
    ],
)  # fmt: skip
def test_sql_refuses_a_time_limit_or_row_cap_out_of_range(
    capsys: pytest.CaptureFixture[str], words: list[str], message: str
) -> None:
    """`sql`'s limits mean the same on both databases: the error names the option and its range."""
    err = _usage_error(capsys, "sql", "SELECT 1", *words)
    assert err.startswith("usage: newstrack sql ")
    assert message in err, err


@pytest.mark.parametrize(
    "words",
    [
        ["run", "--limit", "0"],
        ["extract", "--limit", "2.5"],
        ["extract", "--processes", "1000"],
        ["prune", "--older-than", "1e10"],
        ["worker", "--concurrency", "0"],
        ["jobs", "--retry", "-3"],
        ["jobs", "--retry", "99999999999999999999"],
        ["cron", "check", "--count", "inf"],
        ["watchlist", "add", "w", "--recipient", "a@b.example", "--min-sources", "true"],
    ],
)
def test_every_command_refuses_numbers_out_of_range(
    capsys: pytest.CaptureFixture[str], words: list[str]
) -> None:
    """Counts are whole and bounded everywhere: usage error, exit 2, the range named."""
    err = _usage_error(capsys, *words)
    assert "expected a whole number from 1 to " in err, err


def test_numbers_in_range_parse_to_their_kind() -> None:
    """What is in range parses: a whole number as int, seconds as float, 0 as no row cap."""
    parser = build_parser()
    args = parser.parse_args(["sql", "SELECT 1", "--time-limit", "0.5", "--max-rows", "0"])
    assert (args.time_limit, args.max_rows) == (0.5, 0)
    assert parser.parse_args(["sql", "x", "--time-limit", "86400"]).time_limit == 86400.0
    assert parser.parse_args(["prune", "--older-than", "1e3"]).older_than == 1000


@pytest.mark.parametrize(
    "words",
    [
        ["watchlist", "add", "../../x", "--recipient", "a@b.example"],
        ["watchlist", "add", "a/b", "--recipient", "a@b.example"],
        ["watchlist", "add", "bad\nname", "--recipient", "a@b.example"],
        ["watchlist", "remove", ".."],
        ["digest", "preview", "--watchlist", "../../x"],
        ["digest", "send", "--watchlist", "x\r"],
    ],
)
def test_watchlist_names_on_the_command_line_follow_the_name_rule(
    capsys: pytest.CaptureFixture[str], words: list[str]
) -> None:
    """A watchlist name with '/', '..' or a line break is a usage error naming the rule."""
    err = _usage_error(capsys, *words)
    assert "is not a name: expected 1 to 100 lower-case letters" in err, err
