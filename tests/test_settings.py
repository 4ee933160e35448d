"""Settings are read from the environment once, with clear errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.errors import ConfigError
from pipeline.config.settings import DEFAULT_DATABASE_URL, Settings
from tests.stored import newstrack


def test_defaults_without_environment() -> None:
    """An empty environment gives the documented defaults."""
    settings = Settings.from_environment({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.http.retries == 2
    assert settings.http.obey_robots is True
    assert settings.http.allow_private_addresses is False


def test_environment_overrides() -> None:
    """NEWSTRACK_* variables set the values they name."""
    settings = Settings.from_environment(
        {
            "NEWSTRACK_DB": "postgresql+psycopg://u@h/db",
            "NEWSTRACK_RETRIES": "0",
            "NEWSTRACK_PER_HOST_INTERVAL": "0.5",
            "NEWSTRACK_OBEY_ROBOTS": "no",
            "NEWSTRACK_ALLOW_PRIVATE_ADDRESSES": "true",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.http.retries == 0
    assert settings.http.per_host_interval == 0.5
    assert settings.http.obey_robots is False
    assert settings.http.allow_private_addresses is True


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSTRACK_READ_TIMEOUT", "soon", "expected a number of seconds more than 0 up to 86400"),
        ("NEWSTRACK_READ_TIMEOUT", "0", "more than 0"),
        ("NEWSTRACK_RETRIES", "-1", "expected a whole number from 0 to 10"),
        ("NEWSTRACK_OBEY_ROBOTS", "maybe", "is not true or false"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    """A malformed value is an error naming the variable and the value."""
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_environment({name: value})
    assert name in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        # the values of issue 17: tracebacks, a limit silently off, a fetch that hung
        ("NEWSTRACK_MAX_BODY_BYTES", "inf", "a whole number from 1 to 1073741824"),
        ("NEWSTRACK_RETRIES", "nan", "a whole number from 0 to 10"),
        ("NEWSTRACK_TOTAL_TIMEOUT", "nan", "a number of seconds more than 0 up to 86400"),
        ("NEWSTRACK_PER_HOST_CONNECTIONS", "0.5", "a whole number from 1 to 100"),
        ("NEWSTRACK_PER_HOST_CONNECTIONS", "0", "a whole number from 1 to 100"),
        ("NEWSTRACK_CONNECT_TIMEOUT", "inf", "a number of seconds more than 0 up to 86400"),
        ("NEWSTRACK_READ_TIMEOUT", "-inf", "a number of seconds more than 0 up to 86400"),
        ("NEWSTRACK_READ_TIMEOUT", "86401", "a number of seconds more than 0 up to 86400"),
        ("NEWSTRACK_BACKOFF", "nan", "a number of seconds from 0 up to 86400"),
        ("NEWSTRACK_PER_HOST_INTERVAL", "1e300", "a number of seconds from 0 up to 86400"),
        ("NEWSTRACK_MAX_RETRY_AFTER", "infinity", "a number of seconds more than 0 up to 86400"),
        ("NEWSTRACK_MAX_REDIRECTS", "2.5", "a whole number from 1 to 30"),
        ("NEWSTRACK_RETRIES", "1e100", "a whole number from 0 to 10"),
        ("NEWSTRACK_FETCH_WORKERS", "true", "a whole number from 1 to 256"),
        ("NEWSTRACK_MAX_ARTICLES", "0", "a whole number from 1 to 10000"),
        ("NEWSTRACK_READING_PROCESSES", "-1", "a whole number from 0 to 64"),
        ("NEWSTRACK_READING_PROCESSES", "two", "a whole number from 0 to 64"),
        ("NEWSTRACK_MAX_BODY_BYTES", "99999999999999999999", "a whole number from 1 to 1073741824"),
    ],
)
def test_numbers_are_finite_whole_where_they_count_and_bounded(
    name: str, value: str, allowed: str
) -> None:
    """Every number from the environment is checked in one place: the error names the range."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_environment({name: value})
    assert str(caught.value) == f"{name}={value!r}: expected {allowed}"
    assert caught.value.exit_code == 2


def test_numbers_in_range_are_read_as_their_kind() -> None:
    """Whole numbers may be written 1e6; seconds take fractions; counts come out as int."""
    settings = Settings.from_environment(
        {
            "NEWSTRACK_MAX_BODY_BYTES": "1e6",
            "NEWSTRACK_RETRIES": " 3 ",
            "NEWSTRACK_TOTAL_TIMEOUT": "86400",
            "NEWSTRACK_PER_HOST_CONNECTIONS": "4.0",
            "NEWSTRACK_BACKOFF": "0",
        }
    )
    assert settings.http.max_body_bytes == 1_000_000
    assert isinstance(settings.http.max_body_bytes, int)
    assert settings.http.retries == 3
    assert settings.http.total_timeout == 86400.0
    assert settings.http.per_host_connections == 4
    assert isinstance(settings.http.per_host_connections, int)
    assert settings.http.backoff == 0.0


def test_reading_processes_are_chosen_for_the_cores_unless_set() -> None:
    """Unset (or blank) leaves the number to the cores; 0 reads pages in the fetching process."""
    assert Settings.from_environment({}).reading_processes is None
    assert Settings.from_environment({"NEWSTRACK_READING_PROCESSES": " "}).reading_processes is None
    assert Settings.from_environment({"NEWSTRACK_READING_PROCESSES": "0"}).reading_processes == 0
    assert Settings.from_environment({"NEWSTRACK_READING_PROCESSES": "3"}).reading_processes == 3


def test_smtp_port_and_stalled_after_go_through_the_same_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The mail port and a worker's stall limit are environment numbers too."""
    from pipeline.config.settings import SmtpSettings, stalled_after

    with pytest.raises(ConfigError, match=r"NEWSTRACK_SMTP_PORT='0': expected a whole number"):
        SmtpSettings.from_environment({"NEWSTRACK_SMTP_PORT": "0"})
    assert SmtpSettings.from_environment({"NEWSTRACK_SMTP_PORT": "2525"}).port == 2525
    monkeypatch.setenv("NEWSTRACK_STALLED_AFTER", "nan")
    with pytest.raises(ConfigError, match="NEWSTRACK_STALLED_AFTER='nan'"):
        stalled_after()


def test_command_line_overrides_keep_unset_values() -> None:
    """with_overrides ignores None, so options left out keep the environment's values."""
    settings = Settings.from_environment({"NEWSTRACK_DB": "sqlite:///x.db"})
    assert settings.with_overrides(database_url=None).database_url == "sqlite:///x.db"
    assert settings.with_overrides(database_url="sqlite:///y.db").database_url == "sqlite:///y.db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSTRACK_PER_HOST_CONNECTIONS", "0.5"),  # was 0 connections: the fetch hung for ever
        ("NEWSTRACK_MAX_BODY_BYTES", "inf"),  # was a traceback
        ("NEWSTRACK_RETRIES", "nan"),  # was a traceback
        ("NEWSTRACK_TOTAL_TIMEOUT", "nan"),  # was no limit at all
    ],
)
def test_a_bad_number_stops_the_command_before_it_fetches(
    name: str, value: str, tmp_path: Path
) -> None:
    """`fetch` with a bad number in the environment: one line naming it and its range, exit 2."""
    env = {**os.environ, "NEWSTRACK_DB": f"sqlite:///{tmp_path / 'x.db'}", name: value}
    result = newstrack("fetch", env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"newstrack: error: {name}={value!r}: expected ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


def test_watchlists_unsubscribe_link_and_child_environment_come_from_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The watchlists file and unsubscribe link are settings; a child command runs on this one's files."""
    from pipeline.config.settings import child_environment

    settings = Settings.from_environment(
        {"NEWSTRACK_WATCHLISTS": "team.yaml", "NEWSTRACK_UNSUBSCRIBE_URL": "https://x.example/u"}
    )
    assert settings.watchlists_path == Path("team.yaml")
    assert settings.unsubscribe_url == "https://x.example/u"
    assert Settings.from_environment({"NEWSTRACK_UNSUBSCRIBE_URL": ""}).unsubscribe_url is None
    monkeypatch.setenv("NEWSTRACK_DB", "sqlite:///elsewhere.db")
    monkeypatch.setenv("NEWSTRACK_TEST_KEPT", "1")
    chosen = Settings(database_url="sqlite:///here.db", sources_path=Path("mine.yaml"))
    child = child_environment(chosen)
    assert (child["NEWSTRACK_DB"], child["NEWSTRACK_SOURCES"]) == ("sqlite:///here.db", "mine.yaml")
    assert child["NEWSTRACK_TEST_KEPT"] == "1"


def test_the_review_token_is_read_once_and_never_shown() -> None:
    """NEWSTRACK_REVIEW_TOKEN, stripped; blank means none; the settings' repr leaves it out."""
    settings = Settings.from_environment({"NEWSTRACK_REVIEW_TOKEN": "  s3cret  "})
    assert settings.review_token == "s3cret" and "s3cret" not in repr(settings)
    assert Settings.from_environment({"NEWSTRACK_REVIEW_TOKEN": "  "}).review_token is None
    assert Settings.from_environment({}).review_token is None
