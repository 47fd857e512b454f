"""Careless and hostile configuration values: each is one ``ConfigError`` line naming the key
and its environment variable, never a traceback later (an overflowing datetime, an endless
sleep), and never a setting that quietly sends credentials in clear text."""

from __future__ import annotations

import pytest

from streamer.config import load_settings
from streamer.errors import ConfigError

TEAM = {
    "STREAMER_TEAMS__ACME__APP_KEY": "key",
    "STREAMER_TEAMS__ACME__APP_SECRET": "s3cret-value",
    "STREAMER_TEAMS__ACME__REFRESH_TOKEN": "r3fresh-value",
}


def settings_with(**env: str) -> object:
    return load_settings(None, {**TEAM, **env})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "http://127.0.0.53:8765",
        "http://[::1]:8765",
        "http://localhost:8765/",
        "https://api.dropboxapi.com",
        "https://10.0.0.7:8443",
    ],
)
def test_https_anywhere_and_http_only_to_this_machine(url: str) -> None:
    settings = load_settings(None, {**TEAM, "STREAMER_TEAMS__ACME__API_URL": url})
    assert settings.teams["acme"].api_url == url.rstrip("/")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "url", "says"),
    [
        ("API_URL", "http://api.dropboxapi.com", "use https:// for api.dropboxapi.com"),
        ("TOKEN_URL", "http://simulator:8765/oauth2/token", "use https:// for simulator"),
        ("API_URL", "http://10.0.0.7:8765", "clear text"),
        ("API_URL", "http://127.0.0.1.evil.example", "use https://"),
        ("API_URL", "https://", "must start with https://"),
        ("API_URL", "ftp://x", "must start with https://"),
        ("API_URL", "http://127.0.0.1:port", "is not a URL"),
        ("API_URL", "http://[::1", "is not a URL"),
    ],
)
def test_other_urls_are_refused_naming_the_variable(key: str, url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**TEAM, f"STREAMER_TEAMS__ACME__{key}": url})
    message = str(caught.value)
    assert says in message
    assert f"(env STREAMER_TEAMS__ACME__{key})" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("1024", "greater than or equal to 65536"),
        ("99999999999999999999", "less than or equal to 1073741824"),
        ("-1", "greater than or equal to 65536"),
        ("lots", "valid integer"),
    ],
)
def test_max_response_bytes_is_bounded(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        settings_with(STREAMER_HTTP__MAX_RESPONSE_BYTES=value)
