"""threadline's errors, grouped by what to do about them.

``TransientError`` may succeed when retried (timeouts, HTTP 5xx, SOAP server faults, ODBC
SQLSTATE 08xxx); ``FatalError`` will not (bad credentials, unknown operation, bad config, mapping
errors). Messages say what failed, where (source, stream, file, key) and the next step, and never
contain a secret.
"""

from __future__ import annotations

from connectors.base import ConnectorError, SecretMissingError
from mappings.spec import MappingSpecError


class ThreadlineError(Exception):
    """Base class of every error threadline raises on purpose."""


class FatalError(ThreadlineError):
    """Retrying will not help: fix the config, the mapping or the credentials first."""


class TransientError(ThreadlineError):
    """The source may answer if asked again later."""


class ConfigError(FatalError):
    """The configuration file is invalid; ``problems`` lists every problem with its key path."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the configuration:\n{lines}")


class SourceError(FatalError):
    """A source cannot be read as configured (missing table, unknown operation, bad schema)."""


class SourceUnavailableError(TransientError):
    """The source did not answer (connection refused, timeout, server fault)."""


class LoadAbortedError(FatalError):
    """A load was stopped; the warehouse and bookmark are as they were before it."""


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the failed step may help (used by the runner and the Airflow retry policy)."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, ConnectorError):
        return exc.transient
    return False


#: errors the CLI reports as a message rather than a traceback
EXPECTED_ERRORS = (ThreadlineError, MappingSpecError, ConnectorError)

__all__ = [
    "ThreadlineError", "FatalError", "TransientError", "ConfigError", "MappingSpecError", "SourceError",
    "SecretMissingError", "SourceUnavailableError", "LoadAbortedError", "ConnectorError", "is_transient",
    "EXPECTED_ERRORS",
]
