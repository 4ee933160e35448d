"""Settings are read from the environment once, with clear errors for bad values."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import DEFAULT_DATABASE_URL, Settings


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
        ("NEWSTRACK_READ_TIMEOUT", "soon", "is not a number"),
        ("NEWSTRACK_READ_TIMEOUT", "0", "must be positive"),
        ("NEWSTRACK_RETRIES", "-1", "must be zero or more"),
        ("NEWSTRACK_OBEY_ROBOTS", "maybe", "is not true or false"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    """A malformed value is an error naming the variable and the value."""
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_environment({name: value})
    assert name in str(caught.value)


def test_command_line_overrides_keep_unset_values() -> None:
    """with_overrides ignores None, so options left out keep the environment's values."""
    settings = Settings.from_environment({"NEWSTRACK_DB": "sqlite:///x.db"})
    assert settings.with_overrides(database_url=None).database_url == "sqlite:///x.db"
    assert settings.with_overrides(database_url="sqlite:///y.db").database_url == "sqlite:///y.db"
