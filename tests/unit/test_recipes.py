"""The consumer recipes in docs/recipes/, each checked by what its tool provides here.

- Logstash (``logstash.conf``): parsed by Logstash's own config grammar (vendored
  ``lscl_grammar.treetop``, run by Ruby's treetop: ``tests/unit/recipes/lscl_check.rb``), then
  every plugin option checked against the option list of that plugin's source.
- Vector (``vector.toml``): TOML, then every option, required option and enum value checked
  against Vector's generated configuration reference (``vector_reference.json``).
- Splunk Connect for Kafka (``splunk-connector.json``): JSON, every key a key of the
  connector's config class or of Kafka Connect, the required ones present, and its timestamp
  regex extracting the right time from a real OCSF record the way the connector does.

The reference files under ``tests/unit/recipes/`` say where each list came from. None of
these tools' binaries (Logstash, Vector, Kafka Connect with the Splunk plugin) runs here; the
Python consumer recipe runs against the real broker in tests/integration.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamer.events.ocsf import ocsf_json

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "docs" / "recipes"
REFERENCE = Path(__file__).parent / "recipes"


def _reference(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


# --- Logstash ------------------------------------------------------------------------------


def _lscl(path: Path) -> subprocess.CompletedProcess[str]:
    ruby = shutil.which("ruby")
    has_treetop = (
        ruby is not None
        and (
            subprocess.run([ruby, "-e", 'require "treetop"'], capture_output=True, check=False)
        ).returncode
        == 0
    )
    if ruby is None or not has_treetop:
        # .ci/run installs it; elsewhere the Logstash check is skipped, and says so
        pytest.skip("needs ruby with the treetop gem (Debian: apt-get install ruby-treetop)")
    return subprocess.run(
        [ruby, str(REFERENCE / "lscl_check.rb"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_logstash_pipeline_parses_with_logstashs_grammar_and_uses_real_options() -> None:
    result = _lscl(RECIPES / "logstash.conf")
    assert result.returncode == 0, result.stderr
    plugins = json.loads(result.stdout)
    ref = _reference("logstash_reference.json")
    assert [(p["section"], p["plugin"]) for p in plugins] == [
        ("input", "kafka"),
        ("filter", "date"),
        ("filter", "date"),
        ("output", "elasticsearch"),
    ]
    for plugin in plugins:
        known = set(ref["plugins"][f"{plugin['section']}/{plugin['plugin']}"])
        known |= set(ref["common"][plugin["section"]])
        unknown = set(plugin["attributes"]) - known
        assert not unknown, f"{plugin['plugin']}: {unknown}"
    text = (RECIPES / "logstash.conf").read_text(encoding="utf-8")
    for option, allowed in ref["enums"]["input/kafka"].items():
        value = re.search(rf'{option} => "([^"]+)"', text)
        assert value is not None
        assert value.group(1) in allowed
    assert 'isolation_level => "read_committed"' in text  # the plugin's default is uncommitted


def test_the_logstash_check_rejects_a_broken_config(tmp_path: Path) -> None:
    broken = tmp_path / "broken.conf"
    broken.write_text('input { kafka { topics => ["a" } }\n', encoding="utf-8")
    result = _lscl(broken)
    assert result.returncode == 1
    assert "Expected one of" in result.stderr


# --- Vector --------------------------------------------------------------------------------

_ANY_COMPONENT = {"type", "inputs"}
# Untagged unions: the reference marks every variant required, a config sets exactly one
# (dedupe ``fields``: ``match`` or ``ignore``).
_ONE_OF = [{"match", "ignore"}]


def _vector_problems(where: str, config: dict[str, Any], options: dict[str, Any]) -> list[str]:
    """Unknown options, missing required ones and bad enum values, recursively."""
    problems: list[str] = []
    if "*" in options:  # a free-form map (e.g. librdkafka_options)
        return problems
    for key, value in config.items():
        if key not in options:
            problems.append(f"{where}.{key}: not a Vector option")
            continue
        types = options[key]["type"]
        nested = types.get("object", {}).get("options")
        if isinstance(value, dict) and nested is not None:
            problems += _vector_problems(f"{where}.{key}", value, nested)
        enum = types.get("string", {}).get("enum")
        if enum is not None and isinstance(value, str) and value not in enum:
            problems.append(f"{where}.{key}: {value!r} not in {enum}")
    one_of = next((group for group in _ONE_OF if group == set(options)), None)
    if one_of is not None and len(one_of & set(config)) != 1:
        problems.append(f"{where}: exactly one of {sorted(one_of)}")
    for key, spec in options.items():
        if key == "*" or not spec.get("required") or key in config:
            continue
        if one_of is not None and key in one_of:
            continue
        relevant = spec.get("relevant_when")
        if relevant is not None:
            name, _, wanted = relevant.partition(" = ")
            if config.get(name.strip()) != json.loads(wanted):
                continue
        problems.append(f"{where}.{key}: required")
    return problems


def test_vector_config_uses_only_real_options() -> None:
    config = tomllib.loads((RECIPES / "vector.toml").read_text(encoding="utf-8"))
    components = _reference("vector_reference.json")["components"]
    problems: list[str] = []
    names = set()
    for kind in ("sources", "transforms", "sinks"):
        for name, component in config.get(kind, {}).items():
            names.add(name)
            options = components[f"{kind}.{component['type']}"]
            body = {k: v for k, v in component.items() if k not in _ANY_COMPONENT}
            problems += _vector_problems(f"{kind}.{name}", body, options)
            for upstream in component.get("inputs", []):
                assert upstream in names, f"{name}: input {upstream} is not defined before it"
    assert not problems, problems
    kafka = config["sources"]["dropbox"]
    assert kafka["librdkafka_options"]["isolation.level"] == "read_committed"
    assert config["transforms"]["dedupe"]["fields"]["match"] == [f"{kafka['headers_key']}.event_id"]


def test_the_vector_check_rejects_unknown_and_missing_options() -> None:
    options = _reference("vector_reference.json")["components"]["sources.kafka"]
    problems = _vector_problems(
        "sources.x",
        {"topics": ["a"], "bootstrap_server": "k:9092", "decoding": {"codec": "x"}},
        options,
    )
    assert "sources.x.bootstrap_server: not a Vector option" in problems
    assert "sources.x.bootstrap_servers: required" in problems
    assert any(p.startswith("sources.x.decoding.codec: 'x' not in") for p in problems)


# --- Splunk Connect for Kafka --------------------------------------------------------------


def test_splunk_connector_config_uses_only_real_keys() -> None:
    connector = json.loads((RECIPES / "splunk-connector.json").read_text(encoding="utf-8"))
    ref = _reference("splunk_reference.json")
    config = connector["config"]
    assert connector["name"]
    assert config["connector.class"] == "com.splunk.kafka.connect.SplunkSinkConnector"
    known = set(ref["connector_keys"]) | set(ref["connect_keys"])
    unknown = [
        k for k in config if k not in known and not k.startswith(tuple(ref["connect_prefixes"]))
    ]
    assert not unknown, unknown
    for key in ref["required"]:
        assert config[key]
    assert all(isinstance(v, str) for v in config.values())  # the Connect REST API wants strings
    topics = config["topics"].split(",")
    for per_topic in ("splunk.indexes", "splunk.sourcetypes", "splunk.sources"):
        assert len(config[per_topic].split(",")) == len(topics), per_topic
    assert config["consumer.override.isolation.level"] == "read_committed"


def test_splunk_timestamp_regex_finds_the_ocsf_time() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "unit" / "events"))
    from event_support import sample_events

    config = json.loads((RECIPES / "splunk-connector.json").read_text(encoding="utf-8"))["config"]
    # Java named groups (?<name>...) are Python's (?P<name>...)
    pattern = re.compile(config["timestamp.regex"].replace("(?<", "(?P<"))
    assert config["timestamp.format"] == "epoch"
    for event in sample_events().values():
        value = ocsf_json(event).decode()
        match = pattern.search(value)  # the connector takes the first match, as here
        assert match is not None, event.event_type
        millis = int(match.group("time"))
        assert millis == orjson.loads(value)["time"], event.event_type
        # the connector's epoch rule: divide by 10^(digits - 10) to get seconds
        seconds = millis / 10 ** (len(str(millis)) - 10)
        assert seconds == event.event_time.timestamp(), event.event_type
