"""Structured logging: JSON lines when not on a TTY, readable columns on a TTY.

Team and stream are bound with ``structlog.contextvars`` by the worker, so every line a task
logs carries them, including lines from the client, the token manager and the publisher that
run inside the task. Lines from libraries (aiokafka, aiohttp) go through the same processors,
so they are JSON too and carry the same context.

Levels: INFO is one line per stream cycle plus start-up and shutdown; DEBUG adds one line per
API request and per committed page. Libraries stay at INFO even at DEBUG: their wire dumps
(aiokafka's SASL PLAIN handshake, for one) contain credentials.

As a last line of defence, ``SecretRedactor`` replaces any configured secret value that reaches
a log line (the code never logs secrets on purpose; this catches accidents such as an exception
text that quotes a request), and anything shaped like an access token: a ``Bearer`` credential
or a Dropbox short-lived token (``sl.…``), which are minted at run time and so cannot be listed
in advance. The CLI's ``error:`` line goes through the same redactor (``scrub``).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"
# Access tokens are minted at run time: recognised by shape, not listed. Dropbox's short-lived
# tokens start with "sl."; any credential after "Bearer " goes too.
_TOKEN_SHAPES = re.compile(
    r"(?P<bearer>\b[Bb]earer\s+)[A-Za-z0-9._~+/=-]{8,}|\bsl\.[A-Za-z0-9._~+/=-]{8,}"
)


def _mask_token(match: re.Match[str]) -> str:
    return (match.group("bearer") or "") + REDACTED


class SecretRedactor:
    """A structlog processor that replaces secret values and token-shaped strings everywhere."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        for key, value in event_dict.items():
            event_dict[key] = self._scrub(value)
        return event_dict

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _TOKEN_SHAPES.sub(_mask_token, text) if ("earer" in text or "sl." in text) else text

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, MutableMapping):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value


_active = SecretRedactor()  # the one configure_logging installed; patterns only before that


def scrub(text: str) -> str:
    """``text`` with configured secrets and token-shaped strings redacted (for the CLI)."""
    return _active.scrub(text)


def configure_logging(
    *,
    level: str = "INFO",
    fmt: str = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    global _active
    redactor = _active = SecretRedactor(secrets)
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redactor, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library: same stream, same rendering, same redaction.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redactor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if level == "DEBUG" else logging.WARNING)
