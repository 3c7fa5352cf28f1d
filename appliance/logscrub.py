"""Secrets and one-time codes out of logged URLs: the portal's access log, the hubs' request logs and
every warning that quotes a request (tornado's refusals log the whole URI, ``code=`` included).

One function, ``scrub``, replaces the value of each query parameter in ``SECRET_PARAMETERS`` with
``[secret]``, also inside a URL-encoded URL (a ``next=`` that carries an authorization request);
``ScrubSecrets`` applies it to log records, and ``scrub_handlers`` puts it on a process's log handlers.
JupyterHub's own request log already hides parameters whose names contain ``token``, ``code`` and
``state``; this filter stands behind every record of a hub, whatever logged it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

SECRET_PARAMETERS = ("code", "state", "token", "access_token", "refresh_token", "id_token", "client_secret",
                     "code_verifier", "_xsrf", "password", "ticket")
HIDDEN = "[secret]"
_BEFORE = r"(?:^|[?&;\s\"']|%3F|%26|%253F|%2526)"  # a parameter starts a query, follows another, or a line
_EQUALS = r"(?:=|%3D|%253D)"  # plain, URL-encoded once (in a next=) or twice
_VALUE = r"(?:(?!%26|%2526|%23|%2523)[^&\s\"'#;])+"  # up to the next parameter, fragment or the URL's end
_PATTERN = re.compile(rf"({_BEFORE}(?:{'|'.join(map(re.escape, SECRET_PARAMETERS))}){_EQUALS}){_VALUE}",
                      re.IGNORECASE)
_PLAIN = (int, float, bool, type(None))


def scrub(text: str) -> str:
    """``text`` with the value of every secret query parameter replaced by ``[secret]``."""
    return _PATTERN.sub(rf"\1{HIDDEN}", text)


class ScrubSecrets(logging.Filter):
    """Scrubs a record's arguments (keeping their shape: uvicorn's access formatter unpacks them) and,
    when it holds a secret itself, its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_scrub_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _scrub_arg(value) for key, value in record.args.items()}
        if isinstance(record.msg, str) and scrub(record.msg) != record.msg:
            record.msg, record.args = scrub(record.getMessage()), ()
        return True


def _scrub_arg(arg: Any) -> Any:
    if isinstance(arg, _PLAIN):
        return arg
    text = arg if isinstance(arg, str) else str(arg)
    scrubbed = scrub(text)
    return arg if scrubbed == text else scrubbed


def scrub_handlers(loggers: Iterable[logging.Logger]) -> None:
    """Put ``ScrubSecrets`` on every handler of ``loggers`` and on the last-resort handler (records of
    loggers without handlers of their own). Call after the process has set up its logging."""
    handlers = {handler for logger in loggers for handler in logger.handlers}
    if logging.lastResort is not None:
        handlers.add(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(existing, ScrubSecrets) for existing in handler.filters):
            handler.addFilter(ScrubSecrets())


__all__ = ["SECRET_PARAMETERS", "ScrubSecrets", "scrub", "scrub_handlers"]
