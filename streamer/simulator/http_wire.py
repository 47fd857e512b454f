"""Dropbox HTTP wire format: response builders, error envelopes, request-argument decoding.

* 200 / 401 / 409 / JSON-429 carry ``Content-Type: application/json`` exactly (no charset): the
  Python SDK asserts that string.
* 400 is plain text: ``Error in call to API function "<route>": <message>``.
* Error envelopes: ``{"error_summary": "<tag>/..", "error": <union>}``.

Argument decoding mimics stone's lenient request decoding: unknown struct fields are ignored;
types, ranges and unknown union tags are rejected with stone-style messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NoReturn

import orjson
from aiohttp import web

from streamer.clock import parse_dropbox_time

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


def json_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    hdrs = {"Content-Type": JSON}
    if headers:
        hdrs.update(headers)
    return web.Response(body=body, status=status, headers=hdrs)


def text_response(text: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    hdrs = {"Content-Type": TEXT}
    if headers:
        hdrs.update(headers)
    return web.Response(body=text.encode(), status=status, headers=hdrs)


def error_envelope(error: dict[str, Any]) -> bytes:
    tag = error[".tag"]
    inner = error.get(tag)
    summary = f"{tag}/{inner['.tag']}/.." if isinstance(inner, dict) else f"{tag}/.."
    return orjson.dumps({"error_summary": summary, "error": error})


def route_error(tag: str, value: Any = None, **inline: Any) -> web.Response:
    """409 with the route's error union: ``{".tag": tag}``, a nested ``value`` or inlined fields."""
    error: dict[str, Any] = {".tag": tag, **inline}
    if value is not None:
        error[tag] = value
    return json_response(error_envelope(error), status=409)


def auth_error(tag: str, **inline: Any) -> web.Response:
    return json_response(error_envelope({".tag": tag, **inline}), status=401)


def rate_limited(retry_after: int, *, text_body: bool = False) -> web.Response:
    headers = {"Retry-After": str(retry_after)}
    if text_body:
        return text_response("Too many requests", 429, headers)
    body = orjson.dumps(
        {
            "error_summary": "too_many_requests/..",
            "error": {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after},
        }
    )
    return json_response(body, status=429, headers=headers)


def bad_request(route: str, message: str) -> web.Response:
    return text_response(f'Error in call to API function "{route}": {message}', 400)


# --------------------------------------------------------------------------------------------
# request argument decoding
# --------------------------------------------------------------------------------------------


class ArgError(Exception):
    """A request body stone would reject; rendered as ``request body: <path>: <message>``."""

    def __init__(self, message: str, path: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = list(path)

    def __str__(self) -> str:
        prefix = ".".join(self.path)
        return f"{prefix}: {self.message}" if prefix else self.message


def fail(message: str, *path: str) -> NoReturn:
    raise ArgError(message, path)


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "object"


def struct(body: Any) -> dict[str, Any]:
    """The request body as a struct; unknown fields are tolerated (lenient, like stone)."""
    if not isinstance(body, dict):
        fail(f"expected object, got {type_name(body)}")
    return body


def void(body: Any) -> None:
    """Void routes take ``null`` (what the SDK sends); ``{}`` is tolerated."""
    if body is not None and body != {}:
        fail(f"expected null, got {type_name(body)}")


def opt_bool(d: dict[str, Any], key: str, default: bool) -> bool:
    value = d.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        fail(f"{value!r} is not a valid boolean", key)
    return value


def opt_uint32(d: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = d.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"expected integer, got {type_name(value)}", key)
    if not lo <= value <= hi:
        fail(f"{value} is not within range [{lo}, {hi}]", key)
    return value


def req_str(d: dict[str, Any], key: str, *path: str) -> str:
    if d.get(key) is None:
        fail(f"missing required field '{key}'", *path)
    return check_str(d[key], *path, key)


def opt_str(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    return None if value is None else check_str(value, key)


def check_str(value: Any, *path: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        fail(f"'{value}' expected to be a string, got {type_name(value)}", *path)
    if max_length is not None and len(value) > max_length:
        fail(f"'{value}' must be at most {max_length} characters, got {len(value)}", *path)
    return value


def opt_timestamp(d: dict[str, Any], key: str, *path: str) -> datetime | None:
    value = d.get(key)
    if value is None:
        return None
    text = check_str(value, *path, key)
    try:
        return parse_dropbox_time(text)
    except ValueError:
        fail(f"timestamp '{text}' does not match format '%Y-%m-%dT%H:%M:%SZ'", *path, key)


def union_tag(value: Any, allowed: Callable[[str], bool], *path: str) -> tuple[str, dict[str, Any]]:
    """Decode a union value: bare string or ``{".tag": ...}``; returns (tag, object form)."""
    if isinstance(value, str):
        tag, obj = value, {".tag": value}
    elif isinstance(value, dict):
        raw = value.get(".tag")
        if raw is None:
            fail("missing '.tag' key", *path)
        if not isinstance(raw, str):
            fail(f"tag must be string, got {type_name(raw)}", *path)
        tag, obj = raw, value
    else:
        fail(f"expected string or object, got {type_name(value)}", *path)
    if not allowed(tag):
        fail(f"unknown tag '{tag}'", *path)
    return tag, obj


def list_of(d: dict[str, Any], key: str) -> list[Any]:
    if d.get(key) is None:
        fail(f"missing required field '{key}'")
    value = d[key]
    if not isinstance(value, list):
        fail(f"'{value!r}' is not a valid list", key)
    return value
