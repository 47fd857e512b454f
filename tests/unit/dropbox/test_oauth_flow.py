import base64
import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from dbx_fakes import (
    APP_KEY,
    APP_SECRET,
    INVALID_CLIENT,
    INVALID_GRANT,
    TOKEN_URL,
    FakeDropbox,
    Response,
    json_response,
)
from pydantic import SecretStr

from streamer.auth_command import auth
from streamer.dropbox import Pkce, authorize_url, exchange_code
from streamer.errors import DropboxAuthError

REFRESH = "nBiM85CZALsAAAAAAAAAAQXHBoNpNutK4ngsXHsqW4iGz9tisb3JyjGqikMJIYbd"
GRANT = {
    "access_token": "sl.u.AbX9y6Fe3AuH5o66-gmJp",
    "token_type": "bearer",
    "expires_in": 14400,
    "refresh_token": REFRESH,
    "scope": "account_info.read members.read sessions.list team_info.read",
    "uid": "12345",
    "team_id": "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
}


def test_authorize_url_matches_what_the_official_sdk_builds() -> None:
    assert authorize_url("APPKEY") == (
        "https://www.dropbox.com/oauth2/authorize?response_type=code&client_id=APPKEY"
        "&token_access_type=offline"
        "&scope=account_info.read+team_info.read+members.read+sessions.list+events.read"
    )


def test_authorize_url_carries_state_redirect_and_pkce_challenge() -> None:
    pkce = Pkce.generate()
    url = authorize_url(
        "K",
        web_url="https://sim.test/",
        scopes=["members.read"],
        state="xyz",
        redirect_uri="http://localhost:8080/cb",
        pkce=pkce,
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://sim.test/oauth2/authorize"
    query = parse_qs(parts.query)
    assert query["state"] == ["xyz"]
    assert query["redirect_uri"] == ["http://localhost:8080/cb"]
    assert query["scope"] == ["members.read"]
    assert query["code_challenge_method"] == ["S256"]
    digest = hashlib.sha256(pkce.verifier.encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]
    assert 43 <= len(pkce.verifier) <= 128


async def test_exchange_code_returns_the_grant_with_secrets_wrapped() -> None:
    fake = FakeDropbox().on_token(json_response(200, GRANT))
    grant = await exchange_code(
        fake.transport,
        token_url=TOKEN_URL,
        app_key=APP_KEY,
        app_secret=SecretStr(APP_SECRET),
        code=" the-code \n",
    )
    assert grant.refresh_token.get_secret_value() == REFRESH
    assert grant.team_id == GRANT["team_id"]
    assert grant.expires_in == 14400
    assert grant.missing_scopes() == ("events.read",)
    assert REFRESH not in repr(grant)
    assert GRANT["access_token"] not in repr(grant)
    (call,) = fake.token_calls
    assert call.data == {"grant_type": "authorization_code", "code": "the-code"}
    assert call.headers["Authorization"].startswith("Basic ")


async def test_pkce_exchange_sends_client_id_and_verifier_without_a_secret() -> None:
    fake = FakeDropbox().on_token(json_response(200, GRANT))
    await exchange_code(
        fake.transport,
        token_url=TOKEN_URL,
        app_key=APP_KEY,
        app_secret=None,
        code="c",
        code_verifier="v" * 50,
    )
    (call,) = fake.token_calls
    assert call.data == {
        "grant_type": "authorization_code",
        "code": "c",
        "code_verifier": "v" * 50,
        "client_id": APP_KEY,
    }
    assert "Authorization" not in call.headers


async def test_a_used_or_expired_code_says_to_start_over() -> None:
    fake = FakeDropbox().on_token(INVALID_GRANT)
    with pytest.raises(DropboxAuthError, match="streamer auth url") as caught:
        await exchange_code(
            fake.transport,
            token_url=TOKEN_URL,
            app_key=APP_KEY,
            app_secret=SecretStr(APP_SECRET),
            code="c0de",
        )
    assert "authorization code" in str(caught.value)


async def test_a_grant_without_refresh_token_points_at_offline_access() -> None:
    online = {k: v for k, v in GRANT.items() if k != "refresh_token"}
    fake = FakeDropbox().on_token(json_response(200, online))
    with pytest.raises(DropboxAuthError, match="token_access_type=offline"):
        await exchange_code(
            fake.transport, token_url=TOKEN_URL, app_key="k", app_secret=SecretStr("s"), code="c"
        )


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_url_prints_the_url_on_stdout_and_instructions_on_stderr() -> None:
    result = CliRunner().invoke(
        auth, ["url", "--app-key", "APPKEY", "--scopes", "members.read,events.read"]
    )
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "https://www.dropbox.com/oauth2/authorize?response_type=code&client_id=APPKEY"
        "&token_access_type=offline&scope=members.read+events.read"
    )
    assert "streamer auth exchange" in result.stderr


def test_cli_exchange_prints_only_the_refresh_token_on_stdout(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(APP_SECRET + "\n")
    fake = FakeDropbox().on_token(json_response(200, GRANT))
    result = CliRunner().invoke(
        auth,
        [
            "exchange",
            "--app-key",
            APP_KEY,
            "--app-secret-file",
            str(secret_file),
            "--code",
            "c",
            "--token-url",
            TOKEN_URL,
        ],
        obj={"transport": fake.transport},
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == REFRESH + "\n"
    assert result.stdout.count(REFRESH) == 1
    assert REFRESH not in result.stderr
    assert "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I" in result.stderr
    assert "scopes missing: events.read (the audit stream)" in result.stderr
    assert APP_SECRET not in result.output


def test_cli_exchange_prompts_for_the_secret_when_no_file_is_given() -> None:
    fake = FakeDropbox().on_token(json_response(200, GRANT))
    result = CliRunner().invoke(
        auth,
        ["exchange", "--app-key", APP_KEY, "--code", "c", "--token-url", TOKEN_URL],
        obj={"transport": fake.transport},
        input=APP_SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    assert APP_SECRET not in result.output  # hidden input is not echoed
    assert (
        fake.token_calls[0].headers["Authorization"]
        == "Basic " + base64.b64encode(f"{APP_KEY}:{APP_SECRET}".encode()).decode()
    )


@pytest.mark.parametrize(
    ("answer", "words"), [(INVALID_GRANT, "streamer auth url"), (INVALID_CLIENT, "app secret")]
)
def test_cli_exchange_refusals_surface_as_auth_errors_for_the_cli(
    tmp_path: Path, answer: Response, words: str
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(APP_SECRET)
    fake = FakeDropbox().on_token(answer)
    args = ["exchange", "--app-key", APP_KEY, "--app-secret-file", str(secret_file)]
    args += ["--code", "c", "--token-url", TOKEN_URL]
    # streamer.cli.main turns a StreamerError into "error: <message>" and its exit code
    with pytest.raises(DropboxAuthError) as caught:
        auth.main(args, obj={"transport": fake.transport}, standalone_mode=False)
    assert caught.value.exit_code == 3
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)
    assert APP_SECRET not in str(caught.value)


def test_cli_exchange_with_an_empty_secret_file_is_a_config_error(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("\n")
    result = CliRunner().invoke(
        auth,
        ["exchange", "--app-key", "k", "--app-secret-file", str(secret_file), "--code", "c"],
        obj={"transport": FakeDropbox().transport},
    )
    assert result.exit_code != 0
    assert "app secret is empty" in str(result.exception)
