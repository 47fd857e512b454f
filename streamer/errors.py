"""The exceptions an operator can meet, each with the exit code the CLI returns.

    StreamerError                 base; ``exit_code`` and a message that says what to do
    ├── ConfigError               bad configuration file, environment or flags        (exit 2)
    ├── DropboxAuthError          credentials refused (revoked refresh token, ...)    (exit 3)
    ├── DropboxApiError           the API answered in a way we cannot work around     (exit 4)
    │   ├── MissingScopeError     the app lacks a scope a route needs
    │   ├── RouteError            a 409 route error (``tag`` says which)
    │   ├── BadRequestError       a 400: our request was wrong (a bug, please report)
    │   └── RetryBudgetExhausted  transient errors / 429s outlasted the retry budget
    └── KafkaUnavailableError     the broker cannot be reached or refuses writes      (exit 5)
        └── KafkaRefusedError     the broker refused us: TLS or authentication (waiting cannot help)

Messages never include secret values; callers pass names, not values.
"""

from __future__ import annotations


class StreamerError(Exception):
    """Base of every error the CLI turns into one clear line and an exit code."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(StreamerError):
    exit_code = 2


class DropboxAuthError(StreamerError):
    exit_code = 3


class DropboxApiError(StreamerError):
    exit_code = 4


class MissingScopeError(DropboxApiError):
    def __init__(self, route: str, required_scope: str) -> None:
        super().__init__(
            f"route {route!r} needs the scope {required_scope!r}: enable it on the app's "
            "Permissions tab in the App Console, then create a new refresh token "
            "(`streamer auth url` / `streamer auth exchange`)"
        )
        self.route = route
        self.required_scope = required_scope


class RouteError(DropboxApiError):
    """A 409 answer: the route's own error union, e.g. ``reset`` or ``invalid_cursor``."""

    def __init__(self, route: str, tag: str, error: object) -> None:
        super().__init__(f"route {route!r} answered 409 {tag!r}")
        self.route = route
        self.tag = tag
        self.error = error


class BadRequestError(DropboxApiError):
    def __init__(self, route: str, text: str) -> None:
        super().__init__(f"route {route!r} rejected the request (400): {text[:300]}")
        self.route = route
        self.text = text


class RetryBudgetExhausted(DropboxApiError):
    pass


class KafkaUnavailableError(StreamerError):
    exit_code = 5


class KafkaRefusedError(KafkaUnavailableError):
    """The broker is there but refused the connection: a TLS handshake that failed (untrusted
    or expired certificate, missing client certificate) or failed authentication. Permanent
    until the configuration or the cluster changes, so never worth waiting for."""


EXIT_CODES: dict[int, str] = {
    0: "success (or stopped by SIGTERM/SIGINT after flushing)",
    1: "unexpected internal error (a bug: please report it with the log)",
    2: "invalid configuration or command-line usage",
    3: "Dropbox refused the credentials (e.g. revoked refresh token)",
    4: "Dropbox API error that retries cannot fix (missing scope, retry budget exhausted)",
    5: "Kafka unavailable or refused the connection (TLS, authentication), topics missing, "
    "or writes refused",
}
