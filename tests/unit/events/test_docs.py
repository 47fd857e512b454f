"""docs/events.md: every event type has an example, and every example is a valid event."""

from __future__ import annotations

import json
import re

import pytest
from event_support import ROOT, check_event_json

from streamer.events.envelope import EVENT_TYPES

DOC = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
EXAMPLES = dict(re.findall(r"### `([a-z_.]+)`\n.*?```json\n(.*?)\n```", DOC, flags=re.DOTALL))


def test_every_event_type_has_one_example_and_a_catalogue_row() -> None:
    assert sorted(EXAMPLES) == sorted(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        assert f"`{event_type}`" in DOC.split("## Catalogue")[1].split("### Event ids")[0]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_example_validates_against_the_schema(event_type: str) -> None:
    example = json.loads(EXAMPLES[event_type])
    assert example["event_type"] == event_type
    check_event_json(example)
