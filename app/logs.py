"""Where log lines go and how they look: text for a person at a terminal, or one JSON object per line
(LOG_FORMAT=json) for a log pipeline, with the request's fields (app/rpc/requestlog.py) as keys."""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(log_format: LogFormat) -> None:
    """The root logger's one handler on stderr; uvicorn's loggers are left to propagate to it."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                # The process id tells the worker processes of one server (WORKERS) apart.
                "{asctime}{levelname}{name}{process}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
