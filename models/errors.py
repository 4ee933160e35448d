"""The one tree of errors newstrack raises on purpose."""


class NewstrackError(Exception):
    """Base of every error newstrack raises on purpose; the CLI prints its message, not a traceback."""

    exit_code = 1


class ConfigError(NewstrackError):
    """A configuration file or value is missing or malformed."""

    exit_code = 2


class UsageError(ConfigError):
    """A command line that asks for nothing runnable."""


class UnknownSourceError(ConfigError):
    """A source name given on the command line is not in the registry."""


class DatabaseUrlError(ConfigError):
    """A database URL newstrack cannot use: malformed, another database, or no file to keep data in."""


class DatabaseError(NewstrackError):
    """The database cannot be reached or set up."""


class MissingDatabaseError(DatabaseError):
    """A reading command was pointed at a database newstrack has not set up."""

    exit_code = 2


class QueryError(NewstrackError):
    """A user's SQL query failed or tried to write."""


class InputError(NewstrackError):
    """A line of user input could not be read."""


class ModelNotFoundError(NewstrackError):
    """No trained English spaCy pipeline is installed."""


class FetchError(NewstrackError):
    """An HTTP request failed; carries the outcome class the fetch layer assigned."""

    def __init__(self, message: str, outcome: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.status_code = status_code
