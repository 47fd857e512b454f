"""``streamer auth``: the one-time link of the app to a Dropbox team.

    streamer auth url --app-key KEY                # an admin opens it, approves, copies the code
    streamer auth exchange --app-key KEY --code C  # prints the long-lived refresh token

``exchange`` writes the refresh token, and only it, to stdout so it can go straight into a
secret file (``... > refresh_token``); what was granted goes to stderr. This is the one place the
token is ever printed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from pydantic import SecretStr

from streamer.config import check_url
from streamer.dropbox import (
    DEFAULT_SCOPES,
    DEFAULT_TOKEN_URL,
    DEFAULT_WEB_URL,
    AiohttpTransport,
    TokenGrant,
    Transport,
    authorize_url,
    exchange_code,
)
from streamer.errors import ConfigError

SCOPE_NEEDS = {
    "account_info.read": "basic account access",
    "team_info.read": "the team stream",
    "members.read": "the members stream",
    "sessions.list": "the sessions and apps streams",
    "events.read": "the audit stream",
}


@click.group("auth")
def auth() -> None:
    """Link the app to a Dropbox team and obtain its refresh token (one-time set-up)."""


@auth.command("url")
@click.option("--app-key", required=True, help="The app key from the App Console.")
@click.option("--web-url", default=DEFAULT_WEB_URL, show_default=True, help="Dropbox web host.")
@click.option(
    "--scopes",
    default=" ".join(DEFAULT_SCOPES),
    show_default=True,
    help="Scopes to request, space- or comma-separated.",
)
@click.option(
    "--redirect-uri", help="Only if registered in the App Console; else Dropbox shows the code."
)
@click.option("--state", help="Opaque value echoed back on redirect (CSRF protection).")
def url_command(
    app_key: str, web_url: str, scopes: str, redirect_uri: str | None, state: str | None
) -> None:
    """Print the URL a team admin opens to approve the app."""
    link = authorize_url(
        app_key,
        web_url=web_url,
        scopes=_split_scopes(scopes),
        state=state,
        redirect_uri=redirect_uri,
    )
    click.echo(link)
    click.echo(
        "\nOpen this URL as a Dropbox team admin, approve the app, and copy the code shown.\n"
        "Then run: streamer auth exchange --app-key KEY --app-secret-file FILE --code CODE\n"
        "The code is single-use and expires within minutes.",
        err=True,
    )


@auth.command("exchange")
@click.option("--app-key", required=True, help="The app key from the App Console.")
@click.option(
    "--app-secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding the app secret; prompted for (hidden) when omitted.",
)
@click.option("--code", required=True, help="The authorization code from `streamer auth url`.")
@click.option("--token-url", default=DEFAULT_TOKEN_URL, show_default=True)
@click.option("--redirect-uri", help="The same redirect URI given to `streamer auth url`, if any.")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Extra CA certificate to trust (e.g. the simulator's).",
)
@click.pass_context
def exchange_command(
    ctx: click.Context,
    app_key: str,
    app_secret_file: Path | None,
    code: str,
    token_url: str,
    redirect_uri: str | None,
    ca_file: str | None,
) -> None:
    """Trade the code for the refresh token; prints the token (only) to stdout."""
    try:
        token_url = check_url(token_url)  # the app secret goes there: no clear text off-host
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--token-url") from None
    secret = _read_secret(app_secret_file)
    # tests hand in a fake transport through the context object instead of patching
    given = ctx.obj.get("transport") if isinstance(ctx.obj, dict) else None
    grant = asyncio.run(_exchange(given, ca_file, token_url, app_key, secret, code, redirect_uri))
    click.echo(grant.refresh_token.get_secret_value())
    _report(grant)


async def _exchange(
    given: Transport | None,
    ca_file: str | None,
    token_url: str,
    app_key: str,
    secret: SecretStr,
    code: str,
    redirect_uri: str | None,
) -> TokenGrant:
    transport: Transport = given if given is not None else AiohttpTransport(ca_file=ca_file)
    try:
        return await exchange_code(
            transport,
            token_url=token_url,
            app_key=app_key,
            app_secret=secret,
            code=code,
            redirect_uri=redirect_uri,
        )
    finally:
        if isinstance(transport, AiohttpTransport):
            await transport.close()


def _read_secret(path: Path | None) -> SecretStr:
    if path is None:
        value = click.prompt("App secret", hide_input=True, err=True)
    else:
        try:
            value = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the app secret file {path}: {exc.strerror}") from None
    value = value.strip()
    if not value:
        raise ConfigError("the app secret is empty")
    return SecretStr(value)


def _report(grant: TokenGrant) -> None:
    missing = grant.missing_scopes()
    lines = [
        "",
        "Store the refresh token above as the team's refresh_token (e.g. refresh_token_file);",
        "it is not shown again.",
        f"team id:        {grant.team_id or grant.account_id or 'not reported'}",
        f"scopes granted: {' '.join(grant.scope) or 'not reported'}",
    ]
    if not grant.scope:
        lines.append("scopes missing: unknown (Dropbox did not list the granted scopes)")
    elif missing:
        lines.append("scopes missing: " + ", ".join(f"{s} ({SCOPE_NEEDS[s]})" for s in missing))
        lines.append(
            "Enable them on the app's Permissions tab, then run `streamer auth url` again."
        )
    else:
        lines.append("scopes missing: none")
    if grant.team_id is None:
        lines.append("warning: no team id: this looks like a user link, not a team link")
    click.echo("\n".join(lines), err=True)


def _split_scopes(text: str) -> list[str]:
    return [s for s in text.replace(",", " ").split() if s]
