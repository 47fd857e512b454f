"""docs/operations.md stays true: every metric the code exports, every exit code and every
log event the code emits is documented there."""

from __future__ import annotations

import re
from pathlib import Path

from streamer.errors import EXIT_CODES
from streamer.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "operations.md").read_text()


def test_every_metric_is_documented() -> None:
    families = list(Metrics().registry.collect())
    assert len(families) >= 15
    for family in families:
        name = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"`{name}`" in DOC, name


def test_every_exit_code_is_documented() -> None:
    section = DOC.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = {int(m) for m in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}
    assert rows == set(EXIT_CODES)


def test_every_log_event_the_code_emits_is_documented() -> None:
    emitted: set[str] = set()
    for path in (REPO / "streamer").rglob("*.py"):
        if "simulator" in path.parts:
            continue
        text = path.read_text()
        emitted |= set(re.findall(r"log\.(?:debug|info|warning|error)\(\s*\"([a-z_]+)\"", text))
        emitted |= set(re.findall(r"\)\(\s*\"([a-z_]+)\"", text))  # (log.debug if x else ...)(
    assert {"cycle_done", "api_request", "rate_limited"} <= emitted
    section = DOC.split("## Logs", 1)[1].split("\n## ", 1)[0]
    for event in emitted:
        assert f"`{event}`" in section, event
