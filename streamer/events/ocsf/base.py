"""What every OCSF event of this mapping carries: class, activity, time, metadata, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from streamer import __version__
from streamer.events.envelope import Event
from streamer.events.ocsf.classes import (
    BASE,
    CLASSES,
    FAILURE,
    OCSF_VERSION,
    OTHER,
    SUCCESS,
    Json,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_MS = timedelta(milliseconds=1)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def ms(value: datetime) -> int:
    """OCSF ``timestamp_t``: milliseconds since the epoch."""
    return (_utc(value) - _EPOCH) // _MS


def _iso(value: datetime) -> str:
    return _utc(value).astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def time_of(value: Any) -> int | None:
    """A ``datetime`` or Dropbox timestamp string as milliseconds, else ``None``."""
    if isinstance(value, datetime):
        return ms(value)
    if isinstance(value, str):
        try:
            return ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def base_event(
    event: Event,
    class_uid: int,
    activity_id: int,
    *,
    activity_name: str | None = None,
    status_id: int | None = SUCCESS,
    message: str | None = None,
    event_code: str | None = None,
) -> Json:
    class_name, category_uid, category_name, activities = CLASSES[class_uid]
    name = activity_name or activities[activity_id]
    out: Json = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activities[activity_id]}",
        "severity_id": 1,
        "severity": "Informational",
        "time": ms(event.event_time),
        "metadata": _metadata(event, event_code or event.event_type),
    }
    if status_id is not None:
        out["status_id"] = status_id
        out["status"] = "Success" if status_id == SUCCESS else "Failure"
    if message:
        out["message"] = message
    return out


def _metadata(event: Event, event_code: str) -> Json:
    meta: Json = {
        "version": OCSF_VERSION,
        "uid": event.event_id,
        "product": {"name": "Dropbox", "vendor_name": "Dropbox"},
        "event_code": event_code,
        "tenant_uid": event.team["id"],
        "logged_time": ms(event.observed_time),
        "loggers": [
            {
                "name": "dropbox-streamer",
                "product": {
                    "name": "dropbox-streamer",
                    "vendor_name": "dropbox-streamer",
                    "version": __version__,
                },
                "logged_time": ms(event.observed_time),
            }
        ],
    }
    if event.audit is not None:  # collected from a log: its own time, as the log gave it
        meta["original_time"] = _iso(event.event_time)
    return meta


def catch_all(event: Event, name: str, message: str | None = None) -> Json:
    """Base Event, activity Other, ``activity_name`` = the Dropbox event type. Base Event has
    no ``actor`` or ``user`` without the host profile: who did it stays in ``unmapped``."""
    out = base_event(event, BASE, OTHER, activity_name=name, message=message)
    audit = event.audit
    if audit is not None:
        out["metadata"]["event_code"] = audit["type"]
        if failed(audit["type"]):
            out["status_id"], out["status"] = FAILURE, "Failure"
    return out


def failed(type_tag: str) -> bool:
    return "fail" in type_tag or "error" in type_tag


def tag_of(value: Any) -> str | None:
    if isinstance(value, dict):
        tag = value.get(".tag")
        return tag if isinstance(tag, str) else None
    return value if isinstance(value, str) else None
