"""OAuth over real HTTP: token endpoint (both grants, Basic vs form vs query-string client auth,
errors), the auto-approving authorize page, PKCE, revocation, down-scoped tokens."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from streamer.simulator import SimulatorServer
from tests.integration import test_simulator_support as support
from tests.integration.test_simulator_support import APP_KEY, APP_SECRET, REFRESH, Api, Reply

# fixtures shared by the simulator tests
api = support.api
clock = support.clock
sim = support.sim

REFRESH_FORM = {"grant_type": "refresh_token", "refresh_token": REFRESH}
CLIENT_FORM = {"client_id": APP_KEY, "client_secret": APP_SECRET}


def oauth_error(reply: Reply) -> dict[str, str]:
    assert reply.status == 400, reply.text
    assert reply.content_type == "application/json"
    return dict(reply.json)


async def assert_token_works(api: Api, access_token: str) -> None:
    reply = await api.rpc("team/get_info", token=access_token)
    assert reply.status == 200, reply.text


async def test_refresh_grant_with_form_client_auth(api: Api, sim: SimulatorServer) -> None:
    reply = await api.token_request({**REFRESH_FORM, **CLIENT_FORM})
    assert reply.status == 200
    assert reply.content_type == "application/json"
    body = reply.json
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 14400
    assert body["access_token"].startswith("sl.")
    await assert_token_works(api, body["access_token"])


async def test_refresh_grant_with_basic_auth(api: Api) -> None:
    reply = await api.token_request(REFRESH_FORM, basic=(APP_KEY, APP_SECRET))
    assert reply.status == 200
    await assert_token_works(api, reply.json["access_token"])


async def test_refresh_grant_with_query_string(api: Api) -> None:
    reply = await api.post("/oauth2/token", params={**REFRESH_FORM, **CLIENT_FORM})
    assert reply.status == 200
    await assert_token_works(api, reply.json["access_token"])


async def test_token_lifetime_knob(api: Api, sim: SimulatorServer) -> None:
    sim.faults.token_lifetime_s = 90
    reply = await api.token_request({**REFRESH_FORM, **CLIENT_FORM})
    assert reply.json["expires_in"] == 90


@pytest.mark.parametrize(
    ("form", "basic", "error"),
    [
        ({**REFRESH_FORM, "client_id": APP_KEY, "client_secret": "wrong"}, None, "invalid_client"),
        (
            {**REFRESH_FORM, "client_id": "other-app", "client_secret": APP_SECRET},
            None,
            "invalid_client",
        ),
        (REFRESH_FORM, (APP_KEY, "wrong"), "invalid_client"),
        (REFRESH_FORM, None, "invalid_request"),
        ({"refresh_token": REFRESH, **CLIENT_FORM}, None, "invalid_request"),
        ({"grant_type": "password", **CLIENT_FORM}, None, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", **CLIENT_FORM}, None, "invalid_request"),
        (
            {"grant_type": "refresh_token", "refresh_token": "nope", **CLIENT_FORM},
            None,
            "invalid_grant",
        ),
        (
            {"grant_type": "authorization_code", "code": "nope", **CLIENT_FORM},
            None,
            "invalid_grant",
        ),
        ({**REFRESH_FORM, **CLIENT_FORM, "scope": "files.content.write"}, None, "invalid_scope"),
    ],
)
async def test_token_errors(
    api: Api, form: dict[str, str], basic: tuple[str, str] | None, error: str
) -> None:
    body = oauth_error(await api.token_request(form, basic=basic))
    assert body["error"].split(":")[0] == error


async def test_revoked_refresh_token_is_invalid_grant(api: Api, sim: SimulatorServer) -> None:
    old = (await api.token_request({**REFRESH_FORM, **CLIENT_FORM})).json["access_token"]
    reply = await api.post("/admin/revoke_refresh_token")
    assert reply.status == 200
    body = oauth_error(await api.token_request({**REFRESH_FORM, **CLIENT_FORM}))
    assert body == {
        "error": "invalid_grant",
        "error_description": "refresh token is invalid or revoked",
    }
    await assert_token_works(api, old)  # access tokens live on unless asked otherwise
    await api.post("/admin/revoke_refresh_token", body=b'{"access_tokens": true}')
    reply = await api.rpc("team/get_info", token=old)
    assert (reply.status, reply.json["error"]) == (401, {".tag": "invalid_access_token"})
    # the knob can be turned back
    await api.post("/admin/faults", body=b'{"refresh_token_revoked": false}')
    assert (await api.token_request({**REFRESH_FORM, **CLIENT_FORM})).status == 200


async def test_down_scoped_refresh(api: Api) -> None:
    reply = await api.token_request(
        {**REFRESH_FORM, **CLIENT_FORM, "scope": "team_info.read members.read"}
    )
    token = reply.json["access_token"]
    assert (await api.rpc("team/get_info", token=token)).status == 200
    denied = await api.rpc("team_log/get_events", {}, token=token)
    assert denied.status == 401
    assert denied.json["error"] == {".tag": "missing_scope", "required_scope": "events.read"}


async def authorize(api: Api, **params: str) -> aiohttp.ClientResponse:
    query = {"client_id": APP_KEY, "response_type": "code", **params}
    async with api.session.get(
        api.server.url + "/oauth2/authorize", params=query, allow_redirects=False
    ) as resp:
        await resp.read()
        return resp


async def test_code_flow_with_redirect(api: Api, sim: SimulatorServer) -> None:
    resp = await authorize(
        api, redirect_uri="http://localhost:9/cb", state="xyz", token_access_type="offline"
    )
    assert resp.status == 302
    location = urlsplit(resp.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "localhost:9", "/cb")
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    code = query["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://localhost:9/cb",
    }
    reply = await api.token_request(form, basic=(APP_KEY, APP_SECRET))
    assert reply.status == 200, reply.text
    body = reply.json
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "uid",
        "account_id",
        "team_id",
    }
    assert body["token_type"] == "bearer"
    assert body["refresh_token"] == REFRESH
    assert body["scope"] == " ".join(sorted(sim.config.scopes))
    assert body["team_id"] == sim.world.team_id
    admin = sim.world.member_info(sim.world.admin_member_id())["profile"]
    assert body["account_id"] == admin["account_id"]
    assert body["uid"].isdigit()
    await assert_token_works(api, body["access_token"])
    # single use
    again = oauth_error(await api.token_request(form, basic=(APP_KEY, APP_SECRET)))
    assert again["error"] == "invalid_grant"


async def test_code_flow_without_redirect_shows_the_code(api: Api) -> None:
    query = {"client_id": APP_KEY, "response_type": "code", "token_access_type": "offline"}
    async with api.session.get(api.server.url + "/oauth2/authorize", params=query) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        page = await resp.text()
    code = page.split("<code id='code' style='font-size:1.3em'>")[1].split("</code>")[0]
    reply = await api.token_request(
        {"grant_type": "authorization_code", "code": code, **CLIENT_FORM}
    )
    assert reply.status == 200
    assert reply.json["refresh_token"] == REFRESH


async def test_redirect_uri_must_match(api: Api) -> None:
    resp = await authorize(api, redirect_uri="http://localhost:9/cb")
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://evil/cb",
        **CLIENT_FORM,
    }
    assert oauth_error(await api.token_request(form))["error"] == "invalid_grant"


async def test_online_code_has_no_refresh_token(api: Api) -> None:
    resp = await authorize(api, redirect_uri="http://localhost:9/cb")
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://localhost:9/cb",
        **CLIENT_FORM,
    }
    body = (await api.token_request(form)).json
    assert "refresh_token" not in body
    assert "access_token" in body


async def test_pkce_code_flow(api: Api) -> None:
    verifier = "v" * 64
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    resp = await authorize(
        api,
        redirect_uri="http://localhost:9/cb",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": APP_KEY,
        "redirect_uri": "http://localhost:9/cb",
    }
    bad = oauth_error(await api.token_request({**form, "code_verifier": "w" * 64}))
    assert bad["error"] == "invalid_grant"
    resp = await authorize(
        api,
        redirect_uri="http://localhost:9/cb",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    form["code"] = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    reply = await api.token_request({**form, "code_verifier": verifier})
    assert reply.status == 200, reply.text


async def test_authorize_rejects_unknown_app(api: Api) -> None:
    async with api.session.get(
        api.server.url + "/oauth2/authorize", params={"client_id": "x"}
    ) as resp:
        assert resp.status == 400
