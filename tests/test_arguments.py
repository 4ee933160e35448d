"""Command-line typos: "did you mean", in the usage of the command the user typed."""

from __future__ import annotations

import pytest

from pipeline.cli import build_parser, check_newstrack_command, main


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
