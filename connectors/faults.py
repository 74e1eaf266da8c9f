"""The one table that says whether a failure is worth retrying.

HTTP status, SOAP fault code and ODBC SQLSTATE map to ``retry`` (transient: the source may answer
later) or ``fail`` (fatal: fix something first). Connectors classify through here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY = "retry"
FAIL = "fail"

#: (kind, code or prefix) -> decision; the longest matching prefix wins
FAULT_TABLE: dict[tuple[str, str], str] = {
    ("http", "408"): RETRY,  # request timeout
    ("http", "429"): RETRY,  # too many requests
    ("http", "5"): RETRY,  # 5xx server errors
    ("http", "401"): FAIL,  # credentials rejected
    ("http", "403"): FAIL,
    ("http", "404"): FAIL,  # wrong endpoint
    ("http", "4"): FAIL,
    ("soap", "server"): RETRY,  # SOAP 1.1 Server
    ("soap", "receiver"): RETRY,  # SOAP 1.2 Receiver
    ("soap", "client"): FAIL,  # SOAP 1.1 Client: our request is wrong
    ("soap", "sender"): FAIL,  # SOAP 1.2 Sender
    ("soap", "versionmismatch"): FAIL,
    ("soap", "mustunderstand"): FAIL,
    ("sqlstate", "08"): RETRY,  # connection exceptions
    ("sqlstate", "40001"): RETRY,  # serialization failure
    ("sqlstate", "40P01"): RETRY,  # deadlock detected (PostgreSQL)
    ("sqlstate", "57P0"): RETRY,  # PostgreSQL: backend terminated by an administrator or server shutdown
    ("sqlstate", "HYT"): RETRY,  # timeout expired
    ("sqlstate", "28"): FAIL,  # invalid authorization
    ("sqlstate", "42"): FAIL,  # syntax error or access rule violation (unknown table/column)
    ("sqlstate", "IM"): FAIL,  # driver manager: driver or DSN not found
}


def classify(kind: str, code: str | int | None) -> str:
    """``retry`` or ``fail`` for an HTTP status, SOAP fault code (any prefix) or SQLSTATE."""
    if code is None:
        return FAIL
    text = str(code)
    if kind == "soap":
        text = text.rsplit(":", 1)[-1].rsplit("}", 1)[-1].lower()
    best, decision = -1, FAIL
    for (k, prefix), value in FAULT_TABLE.items():
        if k == kind and text.startswith(prefix) and len(prefix) > best:
            best, decision = len(prefix), value
    return decision


def is_retryable(kind: str, code: str | int | None) -> bool:
    return classify(kind, code) == RETRY


def with_retries(action: Callable[[], T], *, where: str, which: str, retries: int, wait: Callable,
                 keep_trying: Callable[[], bool] | None = None) -> T:
    """Run ``action``, retrying a transient ``ConnectorError`` up to ``retries`` times with ``wait``
    (a tenacity wait) between attempts, each retry logged with ``where`` and ``which``.

    The error raised when the attempts are used up carries ``attempts`` (how many were made), and
    a transient one says it gave up and which setting to raise. ``keep_trying`` stops the retries
    of work that is no longer wanted (a page read ahead).
    """
    from tenacity import Retrying, retry_if_exception, stop_after_attempt

    from connectors.base import ConnectorError

    attempts = retries + 1

    def log_retry(state) -> None:
        log.warning("%s: %s failed (attempt %d of %d), retrying in %.2fs: %s", where, which,
                    state.attempt_number, attempts, state.next_action.sleep if state.next_action else 0.0,
                    state.outcome.exception())

    retrying = Retrying(
        stop=stop_after_attempt(attempts), wait=wait,
        retry=retry_if_exception(lambda exc: isinstance(exc, ConnectorError) and exc.transient
                                 and (keep_trying is None or keep_trying())),
        before_sleep=log_retry, reraise=True)
    try:
        return retrying(action)
    except ConnectorError as exc:
        made = retrying.statistics.get("attempt_number", 1)
        exc.attempts = made
        if exc.transient:
            exc.args = (f"{exc.args[0]}; gave up on {which} after {made} attempt(s) "
                        f"(connection.retries is {retries})",)
        raise
