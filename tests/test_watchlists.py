"""watchlists.yaml: listing without the sending settings, editing that keeps the file's comments."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from models.errors import ConfigError
from models.vocabulary import load_vocabulary
from pipeline.cli import main
from pipeline.config.watchlists import add_watchlist, load_watchlists, remove_watchlist
from tests.conftest import PROJECT


def _shipped_copy(tmp_path: Path) -> Path:
    path = tmp_path / "watchlists.yaml"
    shutil.copy(PROJECT / "watchlists.yaml", path)
    return path


def test_listing_needs_no_recipient_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`watchlist list` shows `${NEWSTRACK_DIGEST_TO}` as written, and that it is not set."""
    monkeypatch.delenv("NEWSTRACK_DIGEST_TO", raising=False)
    path = _shipped_copy(tmp_path)
    assert main(["watchlist", "list", "--file", str(path), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["name"] == "critical-minerals"
    assert listed["recipients"] == ["${NEWSTRACK_DIGEST_TO}"]
    assert listed["unset_variables"] == ["NEWSTRACK_DIGEST_TO"]
    monkeypatch.setenv("NEWSTRACK_DIGEST_TO", "me@example.com")
    assert main(["watchlist", "list", "--file", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["unset_variables"] is None  # empty is null


def test_sending_still_needs_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`digest preview` fills in recipients, so an unset variable stops it with its name."""
    monkeypatch.delenv("NEWSTRACK_DIGEST_TO", raising=False)
    path = _shipped_copy(tmp_path)
    code = main(
        [
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            "digest",
            "preview",
            "--watchlist",
            "critical-minerals",
            "--file",
            str(path),
            "--cron",
            str(PROJECT / "cron.yaml"),
            "--out",
            str(tmp_path / "preview"),
        ]
    )
    assert code == 2
    assert "${NEWSTRACK_DIGEST_TO} is not set" in capsys.readouterr().err


def test_adding_a_variable_recipient_needs_no_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watchlist whose recipient comes from the environment can be added before it is set."""
    monkeypatch.delenv("TEAM_MAIL", raising=False)
    path = tmp_path / "watchlists.yaml"
    add = ["watchlist", "add", "team", "--file", str(path), "--recipient", "${TEAM_MAIL}"]
    assert main(add) == 0
    [team] = load_watchlists(path, load_vocabulary(), {"TEAM_MAIL": "team@example.com"})
    assert team.recipients == ("team@example.com",)


def test_add_and_remove_keep_the_comments_and_layout(tmp_path: Path) -> None:
    """The file's comments, order and inline lists survive an add, and a remove gives it back."""
    path = _shipped_copy(tmp_path)
    original = path.read_text(encoding="utf-8")
    vocabulary = load_vocabulary()
    entry = {
        "name": "gallium",
        "recipients": ["g@example.com"],
        "filters": {"elements": ["Ga"], "measures": ["export_ban"]},
        "schedule": "digest-daily",
    }
    add_watchlist(path, entry, vocabulary)
    added = path.read_text(encoding="utf-8")
    assert added.startswith(original)  # every comment and line of the file as it was
    assert "# one or more addresses, from the environment" in added
    assert "elements: [Ga]" in added
    environ = {"NEWSTRACK_DIGEST_TO": "me@example.com"}
    names = [w.name for w in load_watchlists(path, vocabulary, environ)]
    assert names == ["critical-minerals", "gallium"]
    remove_watchlist(path, "gallium", vocabulary)
    assert path.read_text(encoding="utf-8") == original
    assert [w.name for w in load_watchlists(path, vocabulary, environ)] == ["critical-minerals"]


def test_a_new_file_is_created_and_loads(tmp_path: Path) -> None:
    """Adding to a missing file creates one with a comment saying what edits it."""
    path = tmp_path / "new.yaml"
    add_watchlist(path, {"name": "w", "recipients": ["w@example.com"]}, load_vocabulary())
    assert path.read_text(encoding="utf-8").startswith("# newstrack watchlists")
    assert [w.name for w in load_watchlists(path, load_vocabulary(), {})] == ["w"]
    remove_watchlist(path, "w", load_vocabulary())
    assert load_watchlists(path, load_vocabulary(), {}) == []
    with pytest.raises(ConfigError, match="no watchlist 'w'"):
        remove_watchlist(path, "w", load_vocabulary())


def test_concurrent_adds_lose_no_watchlist(tmp_path: Path) -> None:
    """Edits at the same time each read the file the one before wrote."""
    path = _shipped_copy(tmp_path)
    vocabulary = load_vocabulary()
    names = [f"list-{number}" for number in range(12)]
    start = threading.Barrier(len(names))
    failures: list[BaseException] = []

    def add(name: str) -> None:
        start.wait()
        try:
            add_watchlist(path, {"name": name, "recipients": [f"{name}@example.com"]}, vocabulary)
        except BaseException as error:  # reported below, with the names that went missing
            failures.append(error)

    threads = [threading.Thread(target=add, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    stored = {w.name for w in load_watchlists(path, vocabulary, {"NEWSTRACK_DIGEST_TO": "a@b.c"})}
    assert stored == {"critical-minerals", *names}
    assert "# one or more addresses, from the environment" in path.read_text(encoding="utf-8")


BAD_NAMES = ["a/b", "..", "../../x", "a\r\nb", "x\n", ".hidden", "Capital", "two words", "x" * 101]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_loader_refuses_names_that_are_not_names(tmp_path: Path, name: str) -> None:
    """A watchlist's name follows the rule source names follow: no '/', '..', line break."""
    path = tmp_path / "watchlists.yaml"
    path.write_text(
        f"version: 1\nwatchlists:\n  - name: {json.dumps(name)}\n    recipients: [a@example.com]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_watchlists(path, load_vocabulary(), {})
    assert str(caught.value) == (
        f"{path}: line 3: watchlist {name!r}: name: must be 1 to 100 lower-case letters, digits, "
        "'-', '_' or '.', starting with a letter or digit"
    )


@pytest.mark.parametrize("name", BAD_NAMES)
def test_adding_refuses_a_name_that_is_not_a_name(tmp_path: Path, name: str) -> None:
    """`add_watchlist` checks the name as the loader does; the file is left as it was."""
    path = _shipped_copy(tmp_path)
    original = path.read_bytes()
    with pytest.raises(ConfigError, match="name: must be 1 to 100 lower-case letters"):
        add_watchlist(path, {"name": name, "recipients": ["a@example.com"]}, load_vocabulary())
    assert path.read_bytes() == original


BROKEN = """\
version: 1
watchlists:
  - name: good
    recipients: [a@example.com]
  - name: broken
    recipients: [a@example.com]
    timezone: Mars/Olympus
"""


@pytest.mark.parametrize("edit", ["add", "remove"])
def test_a_file_that_does_not_load_is_never_edited(tmp_path: Path, edit: str) -> None:
    """Adding or removing refuses a file another entry makes unloadable, naming that entry."""
    path = tmp_path / "watchlists.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    vocabulary = load_vocabulary()
    with pytest.raises(ConfigError) as caught:
        if edit == "add":
            add_watchlist(path, {"name": "new", "recipients": ["n@example.com"]}, vocabulary)
        else:
            remove_watchlist(path, "good", vocabulary)
    assert str(caught.value) == (
        f"{path}: line 5: watchlist 'broken': timezone: 'Mars/Olympus' is not an IANA time zone"
    )
    assert path.read_text(encoding="utf-8") == BROKEN


def test_watchlist_add_on_a_broken_file_is_exit_2_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line says which entry breaks the file, exit 2; before, `add` succeeded."""
    path = tmp_path / "watchlists.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    add = ["watchlist", "add", "new", "--file", str(path), "--recipient", "n@example.com"]
    assert main(add) == 2
    assert "line 5: watchlist 'broken': timezone" in capsys.readouterr().err
    assert main(["watchlist", "remove", "good", "--file", str(path)]) == 2
    assert path.read_text(encoding="utf-8") == BROKEN
