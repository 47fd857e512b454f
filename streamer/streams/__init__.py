"""The streams a team worker runs, built from the configuration."""

from __future__ import annotations

from typing import Any

from streamer.config import Settings
from streamer.streams.audit import AuditStream
from streamer.streams.base import Stream
from streamer.streams.inventory import APPS, MEMBERS, SESSIONS, InventorySpec, InventoryStream
from streamer.streams.team import TeamStream


def build_streams(settings: Settings) -> list[Stream]:
    cfg = settings.streams
    streams: list[Stream] = []
    if cfg.team.enabled:
        streams.append(TeamStream())
    specs: tuple[InventorySpec[Any], ...] = (MEMBERS, SESSIONS, APPS)
    for spec in specs:
        if cfg.get(spec.entity.name).enabled:
            streams.append(InventoryStream(spec))
    if cfg.audit.enabled:
        streams.append(AuditStream(category=cfg.audit.category, lookback=cfg.audit.lookback))
    return streams
