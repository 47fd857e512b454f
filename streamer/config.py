"""Settings: one TOML file plus ``STREAMER_*`` environment overrides, validated with pydantic.

Layering, lowest to highest precedence:

1. defaults in the models below;
2. the TOML file (``--config`` / ``STREAMER_CONFIG``);
3. environment variables ``STREAMER_<SECTION>__<KEY>``, nested with ``__``, e.g.
   ``STREAMER_KAFKA__BOOTSTRAP_SERVERS`` or ``STREAMER_TEAMS__ACME__APP_SECRET``.

Any key may instead be given as ``<key>_file`` (in the file or as ``..._FILE`` in the
environment): the value is read from that file, trailing newline stripped. That is how Docker
and Kubernetes secrets are mounted.

The environment comes in as a mapping (tests pass a dict); this module never reads
``os.environ`` itself. Every validation problem becomes one ``ConfigError`` naming the key,
the environment variable that sets it, and what is expected.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from streamer.errors import ConfigError

ENV_PREFIX = "STREAMER_"
STREAM_NAMES = ("team", "members", "sessions", "apps", "audit")

PositiveFloat = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    # Unknown keys are typos until proven otherwise: reject them by name.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class StreamSettings(_Strict):
    enabled: bool = True
    """Poll this stream at all."""
    poll_interval: PositiveFloat = 300.0
    """Seconds between the starts of two polls of this stream."""


class AuditStreamSettings(StreamSettings):
    poll_interval: PositiveFloat = 60.0
    """Seconds between the starts of two polls of the audit log."""
    lookback: float = Field(default=86400.0, ge=0)
    """On the very first start (no stored cursor), how many seconds of audit history to read."""
    category: str | None = None
    """Only this team_log event category (e.g. ``logins``); all categories when unset."""


class StreamsSettings(_Strict):
    team: StreamSettings = StreamSettings(poll_interval=3600.0)
    members: StreamSettings = StreamSettings()
    sessions: StreamSettings = StreamSettings()
    apps: StreamSettings = StreamSettings(poll_interval=900.0)
    audit: AuditStreamSettings = AuditStreamSettings()

    def get(self, name: str) -> StreamSettings:
        value = getattr(self, name)
        assert isinstance(value, StreamSettings)
        return value


class TeamSettings(_Strict):
    app_key: str = Field(min_length=1)
    """The Dropbox app's key (App Console → Settings)."""
    app_secret: SecretStr
    """The Dropbox app's secret. Prefer ``app_secret_file`` or the environment."""
    refresh_token: SecretStr
    """Long-lived refresh token from ``streamer auth exchange``."""
    api_url: str = "https://api.dropboxapi.com"
    """Base URL of the RPC API (the simulator's URL for the demo)."""
    token_url: str = "https://api.dropboxapi.com/oauth2/token"
    """OAuth 2 token endpoint."""
    ca_file: Path | None = None
    """Extra CA bundle to trust (the simulator's self-signed certificate, a TLS proxy)."""

    @field_validator("api_url", "token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("app_secret", "refresh_token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value


def check_url(value: str) -> str:
    """An API or token URL: ``https://``, or ``http://`` to this machine only.

    The token endpoint gets the app secret and the refresh token, the API the access token:
    over plain HTTP anyone on the path reads them, so cleartext is allowed only where nothing
    leaves the host (a local simulator). Returns the URL without a trailing slash.
    """
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL ({exc})") from None
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return value.rstrip("/")
    if parts.scheme == "http" and host:
        if is_loopback(host):
            return value.rstrip("/")
        raise ValueError(
            f"http:// sends the credentials in clear text: use https:// for {host} "
            "(http:// is only for a simulator on this machine: 127.0.0.1, ::1, localhost)"
        )
    raise ValueError("must start with https:// (or http:// for a simulator on this machine)")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TopicSettings(_Strict):
    team: str = "dropbox.team"
    """Team snapshots and changes."""
    members: str = "dropbox.members"
    """Member lifecycle, snapshots and activity summaries."""
    sessions: str = "dropbox.sessions"
    """Web sessions, desktop and mobile clients."""
    apps: str = "dropbox.apps"
    """Member-linked API apps."""
    audit: str = "dropbox.audit"
    """Team audit log (``team_log``) records."""
    state: str = "dropbox.streamer-state"
    """Compacted topic holding cursors and the previous poll's state."""

    def for_stream(self, stream: str) -> str:
        value = getattr(self, stream)
        assert isinstance(value, str)
        return value


EventFormat = Literal["native", "ocsf"]


class FormatSettings(_Strict):
    """Per topic: ``native`` (the envelope, ``schemas/event.schema.json``) or ``ocsf``
    (OCSF 1.8.0, ``docs/ocsf.md``); same key and headers either way, plus ``format=ocsf``."""

    team: EventFormat = "native"
    """``native`` (the envelope) or ``ocsf`` (docs/ocsf.md): the team topic's events."""
    members: EventFormat = "native"
    """``native`` (the envelope) or ``ocsf`` (docs/ocsf.md): the members topic's events."""
    sessions: EventFormat = "native"
    """``native`` (the envelope) or ``ocsf`` (docs/ocsf.md): the sessions topic's events."""
    apps: EventFormat = "native"
    """``native`` (the envelope) or ``ocsf`` (docs/ocsf.md): the apps topic's events."""
    audit: EventFormat = "native"
    """``native`` (the envelope) or ``ocsf`` (docs/ocsf.md): the audit topic's events."""

    def for_stream(self, stream: str) -> EventFormat:
        value: EventFormat = getattr(self, stream)
        return value


class KafkaOAuthSettings(_Strict):
    """SASL/OAUTHBEARER: an access token from an OAuth 2 token endpoint (client credentials
    grant), as Confluent Cloud and Azure Event Hubs use; fetched again ahead of expiry."""

    token_url: str | None = None
    """Token endpoint of the identity provider (``https://``; ``http://`` only on loopback).
    Required with ``sasl_mechanism = "OAUTHBEARER"``."""
    client_id: str | None = None
    """OAuth client id. Required with OAUTHBEARER."""
    client_secret: SecretStr | None = None
    """OAuth client secret; prefer ``client_secret_file``. Required with OAUTHBEARER."""
    scope: str | None = None
    """Scope to request (space-separated), e.g. ``api://<app>/.default`` for Entra ID."""
    extensions: dict[str, str] = Field(default_factory=dict)
    """SASL extensions sent with the token, e.g. Confluent Cloud's ``logicalCluster`` and
    ``identityPoolId``. Set them in the TOML file: environment variable names lose their case."""
    ca_file: Path | None = None
    """Extra CA to trust for the token endpoint (system CAs are always trusted)."""

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlsplit(value)
        if parsed.scheme == "https" and parsed.hostname:
            return value
        if parsed.scheme == "http" and parsed.hostname and is_loopback(parsed.hostname):
            return value
        raise ValueError("must be an https:// URL (http:// only for a loopback address)")


_TLS_KEYS = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password")


class KafkaSettings(_Strict):
    bootstrap_servers: str = "127.0.0.1:19092"
    """Comma-separated ``host:port`` list."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How to talk to the brokers. ``SSL`` and ``SASL_SSL`` use TLS (docs/operations.md)."""
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    """Required with SASL_* protocols; ``OAUTHBEARER`` takes its settings from ``kafka.oauth``."""
    sasl_username: str | None = None
    """Required with SASL_* protocols (except OAUTHBEARER)."""
    sasl_password: SecretStr | None = None
    """Required with SASL_* protocols (except OAUTHBEARER); prefer ``sasl_password_file``."""
    ssl_cafile: Path | None = None
    """CA bundle (PEM) to trust for the brokers' certificates; the system CAs when unset."""
    ssl_certfile: Path | None = None
    """Client certificate (PEM, may include the chain and the key) for mutual TLS."""
    ssl_keyfile: Path | None = None
    """Client private key (PEM) for mutual TLS, when not inside ``ssl_certfile``."""
    ssl_key_password: SecretStr | None = None
    """Password of an encrypted ``ssl_keyfile``; prefer ``ssl_key_password_file``."""
    ssl_check_hostname: bool = True
    """Check that the broker's certificate names the host dialled. Turning it off (a warning
    at start) lets anyone with a certificate from the same CA pose as the broker."""
    oauth: KafkaOAuthSettings = KafkaOAuthSettings()
    """OAUTHBEARER token endpoint and client credentials."""
    client_id: str = "dropbox-streamer"
    """Kafka client id (broker logs, quotas)."""
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "zstd"
    """Producer compression codec."""
    delivery: Literal["at_least_once", "exactly_once"] = "at_least_once"
    """``exactly_once`` writes each page's events and checkpoint in one transaction; consumers
    must read with ``isolation.level=read_committed``."""
    transactional_id: str | None = None
    """Stable id for exactly_once mode; defaults to ``<client_id>-tx``. Two live workers must
    never share one (Kafka fences the older)."""
    create_topics: bool = True
    """Create missing topics at start-up; when false, only verify they exist."""
    partitions: int = Field(default=6, ge=1)
    """Partitions for topics this worker creates."""
    replication_factor: int = Field(default=1, ge=1)
    """Replication factor for topics this worker creates (3 in production clusters)."""
    topics: TopicSettings = TopicSettings()
    """Topic names."""
    formats: FormatSettings = FormatSettings()
    """Event format per topic: the native envelope or OCSF 1.8.0."""
    request_timeout: PositiveFloat = 30.0
    """Seconds for one Kafka request."""
    outage_limit: PositiveFloat = 600.0
    """Seconds Kafka may stay unreachable before the worker gives up and exits (code 5)."""

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        protocol = self.security_protocol
        oauth_set = sorted(k for k, v in self.oauth if v)
        uses_oauth = protocol.startswith("SASL_") and self.sasl_mechanism == "OAUTHBEARER"
        if protocol.startswith("SASL_"):
            if uses_oauth:
                needed = [f"oauth.{k}" for k in ("token_url", "client_id", "client_secret")]
                extra = [k for k in ("sasl_username", "sasl_password") if getattr(self, k)]
                if extra:
                    raise ValueError(
                        f"{' and '.join(extra)} are not used with OAUTHBEARER (the token "
                        "comes from kafka.oauth): remove them"
                    )
            else:
                needed = ["sasl_mechanism", "sasl_username", "sasl_password"]
            missing = [k for k in needed if _dotted_get(self, k) is None]
            if missing:
                raise ValueError(f"security_protocol {protocol} needs {', '.join(missing)}")
        if oauth_set and not uses_oauth:
            raise ValueError(
                f"oauth.{oauth_set[0]} is set but the connection does not use OAUTHBEARER: set "
                'security_protocol = "SASL_SSL" and sasl_mechanism = "OAUTHBEARER", or remove it'
            )
        tls_set = [k for k in _TLS_KEYS if getattr(self, k) is not None]
        if tls_set and protocol not in ("SSL", "SASL_SSL"):
            raise ValueError(
                f"{tls_set[0]} is set but security_protocol {protocol} does not use TLS: "
                "use SSL or SASL_SSL, or remove it"
            )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("ssl_keyfile needs ssl_certfile (the client certificate)")
        if self.ssl_key_password is not None and self.ssl_certfile is None:
            raise ValueError("ssl_key_password needs ssl_certfile and ssl_keyfile")
        return self

    def secrets(self) -> list[str]:
        """Every secret value of this section (for log redaction)."""
        found = [self.sasl_password, self.ssl_key_password, self.oauth.client_secret]
        return [s.get_secret_value() for s in found if s is not None]


def _dotted_get(model: BaseModel, dotted: str) -> Any:
    value: Any = model
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


class HttpSettings(_Strict):
    timeout: PositiveFloat = 30.0
    """Seconds for one API request (connect + response)."""
    max_attempts: int = Field(default=8, ge=1)
    """Tries per request, the first included (429s and 5xx alike), before the cycle fails."""
    retry_budget: PositiveFloat = 900.0
    """Seconds one request may spend retrying (5xx, resets, 429 waits) before giving up."""
    max_concurrency: int = Field(default=8, ge=1)
    """Concurrent requests per team; a 429 drops it to 1 and it grows back one by one."""
    max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=64 * 1024, le=1024**3)
    """Largest API answer read, in bytes (64 KiB to 1 GiB); a larger one fails the request
    (exit 4 with ``--once``) instead of filling memory. The token endpoint's limit is 64 KiB."""


class EventSettings(_Strict):
    first_poll: Literal["snapshot", "changes"] = "snapshot"
    """What the very first poll of a stream emits. ``snapshot``: a quiet baseline (snapshot
    events only; state recorded), so installing the connector does not report every existing
    member as joined. ``changes``: also a joined/started/linked event for everything found."""
    include_raw: bool = True
    """Carry the original Dropbox record in each event's ``raw`` field."""
    snapshot_interval: float = Field(default=86400.0, ge=0)
    """Seconds between full inventory snapshots (``*.snapshot`` events); 0 turns them off."""
    activity_summary: bool = True
    """Emit ``member.activity`` (last seen, active sessions/devices) with each snapshot."""


class LogSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """One line per stream cycle at INFO; requests and pages at DEBUG."""
    format: Literal["auto", "json", "console"] = "auto"
    """``auto``: JSON lines unless stderr is a terminal."""


class MetricsSettings(_Strict):
    enabled: bool = True
    """Serve ``/metrics``, ``/healthz`` and ``/readyz``."""
    host: str = "127.0.0.1"
    """Listen address (``0.0.0.0`` in a container)."""
    port: int = Field(default=9464, ge=0, le=65535)
    """Listen port (0 picks a free one)."""


class Settings(_Strict):
    teams: dict[str, TeamSettings] = Field(min_length=1)
    """One table per Dropbox team; the table name labels logs, metrics and state."""
    kafka: KafkaSettings = KafkaSettings()
    streams: StreamsSettings = StreamsSettings()
    http: HttpSettings = HttpSettings()
    events: EventSettings = EventSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()

    @field_validator("teams")
    @classmethod
    def _team_names(cls, value: dict[str, TeamSettings]) -> dict[str, TeamSettings]:
        for name in value:
            if not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"team name {name!r}: use letters, digits, '-' or '_'")
        return value


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """Build settings from an optional TOML file and an environment mapping."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(path)
    for name, value in sorted(environ.items()):
        # Only nested names (with "__") are settings: every setting lives in a section, and
        # this leaves room for unrelated variables such as STREAMER_CONFIG or STREAMER_KAFKA_HOME.
        if name.startswith(ENV_PREFIX) and "__" in name:
            keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
            if all(keys):
                _set_path(raw, keys, value)
    raw = _resolve_files(raw, ())
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (pass --config PATH)") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _set_path(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def _resolve_files(tree: dict[str, Any], where: tuple[str, ...]) -> dict[str, Any]:
    """Replace every ``<key>_file`` entry by ``<key>`` holding the file's contents."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out[key] = _resolve_files(value, (*where, key))
        elif key.endswith("_file") and key not in _PATH_KEYS:
            target = key[: -len("_file")]
            out[target] = _read_secret_file(Path(str(value)), (*where, key))
        else:
            out.setdefault(key, value)
    return out


# Keys that *are* file paths in their own right, not "read my value from this file".
_PATH_KEYS = frozenset({"ca_file", "ssl_cafile", "ssl_certfile", "ssl_keyfile"})


def _read_secret_file(path: Path, where: tuple[str, ...]) -> str:
    dotted = ".".join(where)
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise ConfigError(f"{dotted}: file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{dotted}: file {path} cannot be read: {reason}") from None


def env_name(location: tuple[str | int, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in location)


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        location = tuple(error["loc"])
        dotted = ".".join(str(part) for part in location) or "(top level)"
        kind = error["type"]
        if kind == "extra_forbidden":
            problems.append(f"{dotted}: unknown key (check the spelling; see config/README.md)")
        elif kind == "missing":
            problems.append(
                f"{dotted}: required; set it in the config file or as {env_name(location)}"
            )
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{dotted}: {message} (env {env_name(location)})")
    count = len(problems)
    head = "invalid configuration" + (f" ({count} problems)" if count > 1 else "")
    return head + ": " + "; ".join(problems)
