"""Argument parsing whose errors say what was probably meant, in the usage of the command typed."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from pipeline.config.numbers import DAY, NumberError, Seconds, Whole
from pipeline.config.yaml_loader import NAME_RULE, is_name

NUMBER = re.compile(r"-\d+(\.\d*)?")  # "-1" is a value, not an option


class PrintVersion(argparse.Action):
    """`--version`: print the lines of the version as they are, not rewrapped, and exit."""

    def __init__(self, option_strings: list[str], version: str, dest: str = "version") -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS)
        self.help = "show the version of newstrack and of its event decision, and exit"
        self.version = version

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        sys.stdout.write(self.version + "\n")
        parser.exit()


class SuggestingParser(argparse.ArgumentParser):
    """An ArgumentParser that suggests close names ("did you mean --element?") on a typo.

    Every subcommand parser made from it is one too, and reports the arguments it does not know
    itself, so the usage printed is that of the subcommand typed, not the top-level one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Subcommands)
        self.given: list[str] = []  # the words this parser was handed after its command's name

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """A value that is not one of the choices (a command's name too) gets the close ones."""
        if action.choices is None or value in action.choices:
            return
        names = [str(choice) for choice in action.choices]
        message = f"invalid choice: {value!r}"
        close = difflib.get_close_matches(str(value), names, n=3)
        if close:
            message += f"; did you mean {_either(close)}?"
        raise argparse.ArgumentError(action, f"{message} (choose from {', '.join(names)})")

    def error(self, message: str) -> NoReturn:
        """Print this command's usage and the error, naming options it does not know, and exit 2."""
        unknown = self._unknown_options()
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            unknown += [word for word in message[len(prefix) :].split() if word.startswith("-")]
        elif unknown:
            # a typo in an option's name makes the option look missing: name the typo instead
            message = prefix + " ".join(unknown)
        known = self._option_names()
        close = [
            guess
            for word in unknown
            for guess in difflib.get_close_matches(word.split("=", 1)[0], known, n=1)
        ]
        if close:
            message += f"; did you mean {_either(list(dict.fromkeys(close)))}?"
        super().error(message)

    def _option_names(self) -> list[str]:
        return [option for action in self._actions for option in action.option_strings]

    def _unknown_options(self) -> list[str]:
        """The words given to this command that look like options it does not take."""
        if any(isinstance(action, argparse._SubParsersAction) for action in self._actions):
            return []  # the words belong to its subcommands, which check them
        known = self._option_names()
        unknown = []
        for word in self.given:
            if word == "--":
                break
            if not word.startswith("-") or word == "-" or NUMBER.fullmatch(word):
                continue
            name = word.split("=", 1)[0]
            abbreviates = name.startswith("--") and any(o.startswith(name) for o in known)
            short_with_value = not name.startswith("--") and name[:2] in known  # -pNAME=VALUE
            if name not in known and not abbreviates and not short_with_value:
                unknown.append(word)
        return unknown


if TYPE_CHECKING:
    _SubcommandsBase = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time
    _SubcommandsBase = argparse._SubParsersAction


class _Subcommands(_SubcommandsBase):
    """Subcommands that report the arguments they do not know themselves."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        """Parse the chosen subcommand's words; stop with its usage on a word it does not know."""
        words = [values] if isinstance(values, str) else list(values or [])
        chosen = self._name_parser_map[words[0]]
        if isinstance(chosen, SuggestingParser):
            chosen.given = [str(word) for word in words[1:]]
        super().__call__(parser, namespace, values, option_string)
        extras = vars(namespace).pop(argparse._UNRECOGNIZED_ARGS_ATTR, [])
        if extras:
            chosen.error(f"unrecognized arguments: {' '.join(extras)}")


class NumberType:
    """An argparse type for one kind of number: a value outside it is a usage error naming the range.

    Every numeric option of every command takes one of these (never `int` or `float`, which let
    nan, inf, 0.5 or -1 through), so what an option accepts reads the same in its error and help.
    """

    def __init__(self, kind: Whole | Seconds) -> None:
        self.kind = kind
        self.__name__ = "number"  # argparse names the type in some of its own errors

    def __call__(self, text: str) -> int | float:
        """The number a word gives, or argparse's error (exit 2) with the range."""
        try:
            return self.kind.from_text(text)
        except NumberError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    def describe(self) -> str:
        """The accepted range in words, for an option's help."""
        return self.kind.describe()


def whole(low: int, high: int, zero: str | None = None) -> NumberType:
    """A whole number from `low` to `high` (and 0, meaning `zero`, when given)."""
    return NumberType(Whole(low, high, zero))


def seconds(high: float = DAY) -> NumberType:
    """A duration in seconds, finite, more than 0 and at most `high` (a day unless said)."""
    return NumberType(Seconds(high))


def watchlist_name(text: str) -> str:
    """An argparse type: a watchlist's name, by the rule source names follow too (NAME_RULE)."""
    if not is_name(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a name: expected {NAME_RULE}")
    return text


def _either(names: Sequence[str]) -> str:
    """ "a", "a or b", "a, b or c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


# The numbers more than one command's options take: whole where they count, bounded.
ARTICLE_LIMIT = whole(1, 1_000_000)
PROCESSES = whole(1, 256)
