"""Helpers of the SIEM tests: the recipe as a module and as a command, an engine client, the
detection queries of docs/recipes/opensearch.md as written there, and flattened mappings."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from opensearchpy import AsyncOpenSearch

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "docs" / "recipes"
INDEXER = RECIPES / "opensearch_indexer.py"
DOC = RECIPES / "opensearch.md"
TEMPLATES = ROOT / "deploy" / "opensearch"
COMMAND_DEADLINE = 180.0


def indexer() -> ModuleType:
    """docs/recipes/opensearch_indexer.py (tests/siem/conftest.py puts docs/recipes on the path,
    as running it as a script does)."""
    return importlib.import_module("opensearch_indexer")


async def run_indexer(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run the recipe as an operator does; (exit code, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(INDEXER),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    _, err = await asyncio.wait_for(process.communicate(), COMMAND_DEADLINE)
    assert process.returncode is not None
    return process.returncode, err.decode()


def counts_line(stderr: str) -> dict[str, int]:
    """The ``received=… created=…`` line the indexer prints when it stops."""
    line = next(line for line in stderr.splitlines() if line.startswith("received="))
    return {key: int(value) for key, value in (p.split("=") for p in line.split())}


def client(url: str) -> AsyncOpenSearch:
    return AsyncOpenSearch([url], max_retries=3, retry_on_timeout=True)


async def request(
    engine: AsyncOpenSearch, method: str, path: str, body: Any = None
) -> dict[str, Any]:
    result = await engine.transport.perform_request(method, path, body=body)
    assert isinstance(result, dict)
    return result


# --- the queries of docs/recipes/opensearch.md ---------------------------------------------------

_QUERY = re.compile(
    r"<!-- query: (?P<name>[\w-]+) -->\n```console\n(?P<method>[A-Z]+) (?P<path>\S+)\n"
    r"(?P<body>.*?)\n```",
    re.S,
)


def doc_queries() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """name -> (method, path, body) of every ``<!-- query: name -->`` block of the doc."""
    return {
        m["name"]: (m["method"], m["path"], json.loads(m["body"]))
        for m in _QUERY.finditer(DOC.read_text(encoding="utf-8"))
    }


def _substitute(value: Any, anchor: str, values: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, anchor, values) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], str) and value[0] in values:
            return list(values[value[0]])  # ["ADMIN_IDS"] -> the ids
        return [_substitute(v, anchor, values) for v in value]
    if isinstance(value, str):
        if value in values:
            return values[value]
        if value == "now":
            return anchor
        if value.startswith(("now-", "now/")):
            return f"{anchor}||{value[3:]}"  # date math anchored at the simulated now
    return value


def query(name: str, prefix: str, now: datetime, **values: Any) -> tuple[str, str, dict[str, Any]]:
    """The doc's query ``name``, on indices named with ``prefix`` instead of ``dropbox``, with
    ``now`` anchored at the simulated time and the placeholders (``MEMBER_ID``, ...) filled."""
    method, path, body = doc_queries()[name]
    assert path.startswith("dropbox-"), path
    anchor = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return method, f"/{prefix}{path[len('dropbox') :]}", _substitute(body, anchor, values)


async def run_query(
    engine: AsyncOpenSearch, name: str, prefix: str, now: datetime, **values: Any
) -> dict[str, Any]:
    method, path, body = query(name, prefix, now, **values)
    return await request(engine, method, path, body)


# --- mappings ------------------------------------------------------------------------------------


def flat_mapping(properties: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"user.email": "keyword", "raw": "object", ...}`` of a mapping's properties."""
    out: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        out[path] = str(spec.get("type", "object"))
        if "properties" in spec:
            out.update(flat_mapping(spec["properties"], f"{path}."))
    return out


def template_mapping(fmt: str) -> dict[str, str]:
    component = TEMPLATES / "component_templates" / f"dropbox-{fmt}-mappings.json"
    mappings = json.loads(component.read_text())["template"]["mappings"]
    return flat_mapping(mappings["properties"])


def hits_sources(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [hit["_source"] for hit in result["hits"]["hits"]]


def buckets(result: Mapping[str, Any], name: str) -> Sequence[dict[str, Any]]:
    found: Sequence[dict[str, Any]] = result["aggregations"][name]["buckets"]
    return found
