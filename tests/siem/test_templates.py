"""The index templates of deploy/opensearch/, without an engine: generated from their single
source, in step with the event schema, and every kind of event we emit fits them (the checks
an engine makes when it indexes a document, done here for every event type and the 30 audit
records of the OCSF tests, in both formats). The engines themselves run in
test_opensearch_e2e.py and test_indexer.py."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from streamer.events.audit import audit_event
from streamer.events.formats import encode_native, encode_ocsf
from tests.siem.support import ROOT, TEMPLATES

sys.path.insert(0, str(ROOT / "tests" / "unit" / "events"))
from event_support import sample_events, team_event
from test_ocsf import AUDIT_CASES, C

GENERATOR = ROOT / "scripts" / "gen_search_templates.py"
SCHEMA = json.loads((ROOT / "schemas" / "event.schema.json").read_text())


def mappings(fmt: str) -> dict[str, Any]:
    path = TEMPLATES / "component_templates" / f"dropbox-{fmt}-mappings.json"
    found: dict[str, Any] = json.loads(path.read_text())["template"]["mappings"]
    return found


def documents(fmt: str) -> Iterator[tuple[str, dict[str, Any]]]:
    encode = encode_native if fmt == "native" else encode_ocsf
    events = [
        *sample_events().values(),
        *(audit_event(team_event(r), C) for r, *_ in AUDIT_CASES.values()),
    ]
    for event in events:
        value, _ = encode(event)
        yield event.event_type, json.loads(value)


def test_the_committed_templates_are_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_every_index_template_composes_the_settings_and_its_formats_mappings() -> None:
    names = sorted(p.stem for p in (TEMPLATES / "index_templates").glob("*.json"))
    assert names == sorted(
        f"dropbox-{fmt}-{s}"
        for fmt in ("native", "ocsf")
        for s in ("team", "members", "sessions", "apps", "audit")
    )
    for name in names:
        body = json.loads((TEMPLATES / "index_templates" / f"{name}.json").read_text())
        fmt = name.split("-")[1]
        assert body["composed_of"] == ["dropbox-settings", f"dropbox-{fmt}-mappings"]
        assert body["index_patterns"] == [f"{name}-*"]
        assert body["_meta"]["write_alias"] == name


# --- the native mapping against the event schema -------------------------------------------------


def _schema_fields(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, schema node) of every property, $refs followed, nullables unwrapped."""
    if "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    for option in node.get("anyOf", []):
        if option.get("type") != "null":
            yield from _schema_fields(option, path)
    if node.get("type") == "array" and "items" in node:
        yield from _schema_fields(node["items"], path)
    for name, child in node.get("properties", {}).items():
        child_path = f"{path}.{name}" if path else name
        yield child_path, child
        yield from _schema_fields(child, child_path)


def _formats(node: dict[str, Any]) -> set[str]:
    if "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    found = {node["format"]} if "format" in node else set()
    for option in node.get("anyOf", []):
        found |= _formats(option)
    return found


def _mapped(properties: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in properties.items():
        child = f"{path}.{name}" if path else name
        yield child, spec
        yield from _mapped(spec.get("properties", {}), child)


def test_every_timestamp_of_the_envelope_schema_is_mapped_as_a_date() -> None:
    mapped = dict(_mapped(mappings("native")["properties"]))
    timestamps = [p for p, node in _schema_fields(SCHEMA) if "date-time" in _formats(node)]
    assert len(timestamps) >= 10
    for path in timestamps:
        assert path in mapped, f"{path} is a timestamp but not mapped"
        assert mapped[path]["type"] == "date", path


def test_every_mapped_envelope_field_exists_in_the_schema() -> None:
    fields = dict(_schema_fields(SCHEMA))
    # objects whose fields the schema leaves open (changes, audit parts, status_details, ...)
    free_form = {
        p for p, node in fields.items() if not node.get("properties") and "$ref" not in node
    }
    in_schema = set(fields)
    for path, _ in _mapped(mappings("native")["properties"]):
        parents = {path.rsplit(".", i)[0] for i in range(1, path.count(".") + 1)}
        if path == "@timestamp" or parents & free_form:
            continue
        assert path in in_schema, f"{path} is mapped but not in schemas/event.schema.json"


# --- every document fits ---------------------------------------------------------------------


def _fits(kind: str, value: Any) -> bool:
    if isinstance(value, list):
        return all(_fits(kind, v) for v in value)
    if value is None:
        return True
    if kind in ("keyword", "text"):
        return isinstance(value, str | int | float | bool)
    if kind == "date":
        if isinstance(value, int) and not isinstance(value, bool):
            return True
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if kind == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return False
        return True
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    raise AssertionError(f"no check for mapping type {kind}")


def _problems(doc: Any, properties: dict[str, Any], path: str = "") -> Iterator[str]:
    """What an engine would reject: a mapped object holding a key that starts or ends with a
    dot (".tag"), or a value that does not fit its field's type."""
    for item in doc if isinstance(doc, list) else [doc]:
        if not isinstance(item, dict):
            yield f"{path or '<root>'}: an object is mapped here, got {item!r:.60}"
            continue
        for key, value in item.items():
            where = f"{path}.{key}" if path else key
            if key.startswith(".") or key.endswith(".") or ".." in key:
                yield f"{where}: a mapped object cannot hold this key"
                continue
            spec = properties.get(key)
            if spec is None or spec.get("enabled") is False or spec.get("index") is False:
                continue  # dynamic: false skips it whole; stored only
            if "properties" in spec:
                yield from _problems(value, spec["properties"], where)
            elif not _fits(spec["type"], value):
                yield f"{where}: {value!r:.60} does not fit {spec['type']}"


@pytest.mark.parametrize("fmt", ["native", "ocsf"])
def test_every_kind_of_event_fits_the_mapping(fmt: str) -> None:
    properties = mappings(fmt)["properties"]
    problems = [
        f"{event_type}: {p}"
        for event_type, doc in documents(fmt)
        for p in _problems(doc, properties)
    ]
    assert not problems, problems[:20]


def test_the_check_catches_a_union_tag_inside_a_mapped_object() -> None:
    properties = {"audit": {"properties": {"actor": {"properties": {"x": {"type": "keyword"}}}}}}
    doc = {"audit": {"actor": {".tag": "user", "x": "y"}}}
    assert list(_problems(doc, properties)) == [
        "audit.actor..tag: a mapped object cannot hold this key"
    ]
