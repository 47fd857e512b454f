"""Logging configuration: JSON off a TTY, console on one, context and redaction on every line,
library lines included."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest
import structlog

from streamer.logs import REDACTED, SecretRedactor, configure_logging, scrub


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_off_a_tty_every_line_is_json_with_team_and_stream() -> None:
    out = io.StringIO()
    configure_logging(level="INFO", stream=out)
    structlog.contextvars.bind_contextvars(team="acme", stream="members")
    structlog.get_logger("streamer.worker").info("cycle_done", pages=2)
    logging.getLogger("aiokafka.conn").warning("broker %s went away", "b1")

    ours, library = lines(out)
    assert ours["event"] == "cycle_done"
    assert (ours["team"], ours["stream"], ours["level"]) == ("acme", "members", "info")
    assert library["event"] == "broker b1 went away"
    assert (library["team"], library["stream"], library["level"]) == ("acme", "members", "warning")
    assert library["logger"] == "aiokafka.conn"


def test_on_a_tty_lines_are_readable_not_json() -> None:
    out = Terminal()
    configure_logging(level="INFO", stream=out)
    structlog.get_logger().info("cycle_done", pages=2)
    text = out.getvalue()
    assert "cycle_done" in text
    assert "pages" in text
    assert not text.lstrip().startswith("{")


def test_debug_shows_our_detail_but_keeps_library_wire_dumps_out() -> None:
    out = io.StringIO()
    configure_logging(level="DEBUG", stream=out)
    structlog.get_logger().debug("api_request", route="team/get_info")
    logging.getLogger("aiokafka.conn").debug("Request 3: SaslAuthenticateRequest(b'\\x00u\\x00pw')")
    logging.getLogger("aiokafka.conn").info("Authenticated as u via PLAIN")
    assert [line["event"] for line in lines(out)] == [
        "api_request",
        "Authenticated as u via PLAIN",
    ]


def test_info_hides_debug_lines() -> None:
    out = io.StringIO()
    configure_logging(level="INFO", stream=out)
    structlog.get_logger().debug("api_request")
    logging.getLogger("aiokafka").info("chatty")
    assert out.getvalue() == ""


def test_secret_values_are_redacted_in_our_lines_and_library_lines() -> None:
    out = io.StringIO()
    configure_logging(level="INFO", secrets=["hunter2-secret"], stream=out)
    structlog.get_logger().warning("oops", detail={"body": ["x hunter2-secret y"]})
    logging.getLogger("aiohttp.client").error("sent hunter2-secret")
    text = out.getvalue()
    assert "hunter2-secret" not in text
    assert text.count(REDACTED) == 2


def test_redactor_ignores_values_too_short_to_be_secrets() -> None:
    redact = SecretRedactor(["abc", "long-enough"])
    event = redact(None, "info", {"event": "abc long-enough", "n": 3})
    assert event == {"event": f"abc {REDACTED}", "n": 3}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('bad header "Bearer sl.u.AbX9y6Fe3AuH5o66-gmJp"', f'bad header "Bearer {REDACTED}"'),
        ("token sl.B0123456789abcdef expired", f"token {REDACTED} expired"),
        ("authorization: bearer opaque-token-1234", f"authorization: bearer {REDACTED}"),
        ("tls.ssl_cafile and sl.short stay", "tls.ssl_cafile and sl.short stay"),
    ],
)
def test_access_tokens_are_redacted_by_shape_although_nobody_listed_them(
    text: str, expected: str
) -> None:
    out = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=out)
    structlog.get_logger().warning("cycle_failed", error=text)
    assert lines(out)[0]["error"] == expected
    assert scrub(text) == expected  # the CLI's error line too
