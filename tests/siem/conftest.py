"""Fixtures of the SIEM tests: real OpenSearch and Elasticsearch nodes (scripts/search-engine,
helpers in tests/siem/search_engine.py).

With OPENSEARCH_URL / ELASTICSEARCH_URL set, tests use those nodes as they are (e.g.
``export $(scripts/search-engine start opensearch)``). Otherwise the session starts its own,
both at once (they take ~10-25 s each on a busy 2-core machine), on free loopback ports, and
stops them at the end (finalizer, atexit, and a watchdog for a killed pytest).

Tests that need an engine take ``search_url`` (parametrized over both engines) and carry the
marker: ``pytestmark = pytest.mark.search``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.siem.search_engine import (
    ENGINES,
    URL_VARIABLE,
    SearchEngine,
    SearchEngineStartError,
    start_engine,
)

# the recipes import each other as plain modules (`from consumer import ...`), as they do
# when run as scripts from docs/recipes/
RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"
if str(RECIPES) not in sys.path:
    sys.path.insert(0, str(RECIPES))


@pytest.fixture(scope="session")
def search_nodes() -> Iterator[dict[str, str]]:
    """Engine name -> URL of every engine, started concurrently unless given by the env."""
    urls = {e: os.environ[URL_VARIABLE[e]] for e in ENGINES if os.environ.get(URL_VARIABLE[e])}
    missing = [e for e in ENGINES if e not in urls]
    started: list[SearchEngine] = []
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=len(ENGINES)) as pool:
        for engine, future in [(e, pool.submit(start_engine, e)) for e in missing]:
            try:
                node = future.result()
            except SearchEngineStartError as exc:
                errors.append(str(exc))
            else:
                started.append(node)
                urls[engine] = node.url
    try:
        if errors:
            pytest.fail(
                "\n".join(errors) + "\nSIEM tests need Java 17+ (and mvn and unzip, once) or "
                "OPENSEARCH_URL / ELASTICSEARCH_URL; deselect them with -m 'not search'.",
                pytrace=False,
            )
        yield urls
    finally:
        for node in started:
            node.stop()


@pytest.fixture(scope="session", params=ENGINES)
def search_url(request: pytest.FixtureRequest, search_nodes: dict[str, str]) -> str:
    """URL of one engine; tests taking it run once per engine."""
    return search_nodes[request.param]
