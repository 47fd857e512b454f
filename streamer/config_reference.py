"""Render the configuration reference (config/README.md) from the settings models.

Generated, so it cannot drift: ``tests/unit/test_config_reference.py`` fails when the committed
file differs, and ``python -m streamer.config_reference > config/README.md`` regenerates it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr

from streamer.config import Settings, env_name

HEADER = """# Configuration reference

Generated from `streamer/config.py` by `python -m streamer.config_reference > config/README.md`.

Settings come from a TOML file (`streamer run --config FILE`, or `STREAMER_CONFIG`), overridden
by environment variables named `STREAMER_<SECTION>__<KEY>` (double underscore between levels).
Any key can also be read from a file: append `_file` to the key
(`app_secret_file = "/run/secrets/x"`) or `_FILE` to the variable
(`STREAMER_TEAMS__ACME__APP_SECRET_FILE=/run/secrets/x`); the trailing newline is stripped.
Unknown keys are errors. `<team>` is the name of a `[teams.<team>]` table.
An annotated example: [`streamer.example.toml`](streamer.example.toml).

| key | default | environment variable | meaning |
|---|---|---|---|
"""


def _default(field: Any, value: Any) -> str:
    if field.is_required():
        return "required"
    if isinstance(value, BaseModel):
        return "(table)"
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _rows(
    model: type[BaseModel], prefix: tuple[str, ...], defaults: BaseModel | None = None
) -> list[str]:
    """One row per leaf key; ``defaults`` is the parent's default instance of this table,
    whose values can differ from the class defaults (e.g. each stream's poll interval)."""
    rows = []
    for name, field in model.model_fields.items():
        value = getattr(defaults, name) if defaults is not None else field.default
        location = (*prefix, name)
        annotation = field.annotation
        nested = annotation if isinstance(annotation, type) else None
        if name == "teams":
            from streamer.config import TeamSettings

            rows += _rows(TeamSettings, ("teams", "<team>"))
            continue
        if nested is not None and issubclass(nested, BaseModel):
            rows += _rows(nested, location, value if isinstance(value, BaseModel) else None)
            continue
        doc = " ".join((field.description or "").split())
        dotted = ".".join(location)
        rows.append(f"| `{dotted}` | {_default(field, value)} | `{env_name(location)}` | {doc} |")
    return rows


def render_reference() -> str:
    return HEADER + "\n".join(_rows(Settings, ())) + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
