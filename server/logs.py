"""Logging set-up: one handler on the root logger, text or JSON lines, each with the
request id of the request that wrote it."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from core.settings import Settings
from server.observability import RequestIdFilter


def configure_logging(settings: Settings) -> None:
    as_json = (settings.log_format or ("json" if settings.production else "text")) == "json"
    handler = logging.StreamHandler()
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(_plain_uvicorn_name)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("tortoise").setLevel(logging.WARNING)  # "Tortoise-ORM shutdown", ...
    # Neither format shows where a line was logged from, so none is looked up: the logging
    # HOWTO's "Optimization" (one stack walk fewer for each request's line).
    logging._srcfile = None
    logging.logMultiprocessing = False


def _plain_uvicorn_name(record: logging.LogRecord) -> bool:
    """uvicorn writes its start and stop lines as "uvicorn.error", errors or not."""
    if record.name == "uvicorn.error":
        record.name = "uvicorn"
    return True


@contextlib.contextmanager
def quieted(name: str) -> Iterator[None]:
    """A logger's warnings left out for a moment: a worker building what main.py already
    checked and warned about once for the whole start."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)
