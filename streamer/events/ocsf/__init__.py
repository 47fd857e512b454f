"""Events in OCSF, the Open Cybersecurity Schema Framework, version ``OCSF_VERSION`` (1.8.0).

``to_ocsf(event)`` maps one native ``Event`` to one OCSF event (a plain dict); ``ocsf_json``
encodes it. Pure functions, no I/O. The mapping, class by class, is in ``docs/ocsf.md``;
``tests/unit/events/test_ocsf.py`` validates every event type's OCSF form against the JSON
Schema of the pinned OCSF version (from the ``ocsf-json-schema`` package).

Nothing is lost: ``unmapped`` holds the native envelope without ``raw``, and ``raw_data`` the
Dropbox record as JSON text (when ``events.include_raw`` is on), so the native event is
``{**unmapped, "raw": json.loads(raw_data)}``. Values are only ever put where OCSF defines
them. No profiles are used (``metadata.profiles`` is absent).

The package, by concept::

    classes   the OCSF version, classes and activities emitted
    base      what every OCSF event carries (class, activity, time, metadata, status)
    parts     user, location, endpoint, OS, device, session objects
    native    the native event types (team, members, sessions, apps)
    actors    who acted in a team-log record and from where (every audit class shares it)
    audit     team-log records by event category
    encode    an event → its OCSF form → the Kafka record value and headers
"""

from streamer.events.ocsf.classes import CLASSES, OCSF_VERSION
from streamer.events.ocsf.encode import encode_ocsf, ocsf_headers, ocsf_json, to_ocsf
from streamer.events.ocsf.parts import country_code, region_code

__all__ = [
    "CLASSES",
    "OCSF_VERSION",
    "country_code",
    "encode_ocsf",
    "ocsf_headers",
    "ocsf_json",
    "region_code",
    "to_ocsf",
]
