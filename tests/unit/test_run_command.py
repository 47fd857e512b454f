from datetime import UTC, datetime

import click
import pytest

from streamer.run_command import parse_when

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:30:00Z", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("2026-01-31T14:30:00+02:00", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("7d", datetime(2026, 3, 3, 12, 0, 0, tzinfo=UTC)),
        ("12h", datetime(2026, 3, 10, 0, 0, 0, tzinfo=UTC)),
        ("30m", datetime(2026, 3, 10, 11, 30, 0, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "7 days", ""])
def test_parse_when_rejects_with_an_example(text: str) -> None:
    with pytest.raises(click.BadParameter, match="2026-01-31T12:00:00Z or 7d"):
        parse_when(text, now=NOW)
