"""Admin endpoints of the simulator (under ``/admin/``; never faulted, limited or counted).

=====================================  ==========================================================
``GET  /admin/info``                   url, team, credentials, scopes, simulated now
``POST /admin/advance``                ``{"seconds": N}`` → ``{"now": ts, "changes": [...]}``
``GET  /admin/truth``                  ``world.truth()``
``GET  /admin/changes?since=I``        ``{"changes": world.changes[I:], "next": len}``
``GET  /admin/faults``                 current knobs
``POST /admin/faults``                 JSON patch of knobs (all-or-nothing) → current knobs
``POST /admin/expire_tokens``          every live access token → 401 expired_access_token
``POST /admin/revoke_refresh_token``   refresh grants → invalid_grant; body
                                       ``{"access_tokens": true}`` also forgets access tokens
``POST /admin/invalidate_cursors``     every outstanding cursor → the route's reset error
``GET  /admin/counters``               ``{"team/members/list_v2": {"200": 12, "429": 3}}``
``POST /admin/counters/reset``         zero the counters
=====================================  ==========================================================

Errors are ``400 {"error": "<message>"}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from streamer.clock import format_dropbox_time
from streamer.simulator.http_view import ChangeLike
from streamer.simulator.http_wire import json_response

if TYPE_CHECKING:
    from streamer.simulator.server import SimulatorServer


def change_json(change: ChangeLike) -> dict[str, Any]:
    at = change.at
    return {
        "kind": change.kind,
        "member_id": change.member_id,
        "subject_id": change.subject_id,
        "at": format_dropbox_time(at) if isinstance(at, datetime) else at,
        "details": change.details,
    }


def _ok(value: Any) -> web.Response:
    return json_response(orjson.dumps(value, default=str))


def _bad(message: str) -> web.Response:
    return json_response(orjson.dumps({"error": message}), status=400)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return {}
    return orjson.loads(raw)


def register(app: web.Application, server: SimulatorServer) -> None:
    async def info(request: web.Request) -> web.Response:
        creds = server.config.credentials
        return _ok(
            {
                "url": server.url,
                "api_host": server.api_host,
                "team_id": server.world.team_id,
                "team_name": server.world.team_name,
                "app_key": creds.app_key,
                "app_secret": creds.app_secret,
                "refresh_token": creds.refresh_token,
                "scopes": " ".join(server.config.scopes),
                "now": format_dropbox_time(server.world.now),
            }
        )

    async def advance(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
        except orjson.JSONDecodeError:
            return _bad("body must be JSON")
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            return _bad('expected {"seconds": <number >= 0>}')
        changes = server.advance(seconds)
        return _ok(
            {
                "now": format_dropbox_time(server.world.now),
                "changes": [change_json(c) for c in changes],
            }
        )

    async def truth(request: web.Request) -> web.Response:
        return _ok(server.world.truth())

    async def changes(request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return _bad("since must be an integer")
        all_changes = server.world.changes
        since = max(0, since)
        return _ok(
            {"changes": [change_json(c) for c in all_changes[since:]], "next": len(all_changes)}
        )

    async def get_faults(request: web.Request) -> web.Response:
        return _ok(server.faults.to_dict())

    async def patch_faults(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
        except orjson.JSONDecodeError:
            return _bad("body must be JSON")
        if not isinstance(body, dict):
            return _bad("expected a JSON object of knobs")
        try:
            server.faults.update(body)
        except ValueError as exc:
            return _bad(str(exc))
        return _ok(server.faults.to_dict())

    async def expire_tokens(request: web.Request) -> web.Response:
        return _ok({"expired": server.expire_tokens()})

    async def revoke(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
        except orjson.JSONDecodeError:
            return _bad("body must be JSON")
        forget = bool(body.get("access_tokens", False)) if isinstance(body, dict) else False
        server.revoke_refresh_token(access_tokens=forget)
        return _ok({"refresh_token_revoked": True, "access_tokens_forgotten": forget})

    async def invalidate_cursors(request: web.Request) -> web.Response:
        server.cursors.invalidate_all()
        return _ok({"epoch": server.cursors.epoch})

    async def counters(request: web.Request) -> web.Response:
        return _ok(server.counters.snapshot())

    async def reset_counters(request: web.Request) -> web.Response:
        server.counters.reset()
        return _ok({})

    r = app.router
    r.add_get("/admin/info", info)
    r.add_post("/admin/advance", advance)
    r.add_get("/admin/truth", truth)
    r.add_get("/admin/changes", changes)
    r.add_get("/admin/faults", get_faults)
    r.add_post("/admin/faults", patch_faults)
    r.add_post("/admin/expire_tokens", expire_tokens)
    r.add_post("/admin/revoke_refresh_token", revoke)
    r.add_post("/admin/invalidate_cursors", invalidate_cursors)
    r.add_get("/admin/counters", counters)
    r.add_post("/admin/counters/reset", reset_counters)
