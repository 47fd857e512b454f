"""Write the OpenSearch / Elasticsearch index templates in deploy/opensearch/ (``--check``: fail
if a committed file differs).

python scripts/gen_search_templates.py          # regenerate
python scripts/gen_search_templates.py --check  # exit 1 when a committed file is stale

The JSON files are what operators install (docs/recipes/opensearch_indexer.py install, or curl);
this script is their single source, so the many places an OCSF ``user`` or ``device`` object
occurs are mapped alike. Layout:

- ``component_templates/dropbox-settings.json``: index settings shared by every index
  (shards, replicas, refresh, compression); the one file to tune.
- ``component_templates/dropbox-{native,ocsf}-mappings.json``: the field mappings of the native
  envelope (docs/events.md) and of our OCSF 1.8.0 output (docs/ocsf.md).
- ``index_templates/dropbox-{native,ocsf}-<stream>.json``: one per topic and format, matching
  the backing indices ``dropbox-<format>-<stream>-000001``, ... behind the write alias
  ``dropbox-<format>-<stream>`` (rolled over by ISM/ILM, see ``policies/``).
- ``policies/ism-rollover.json`` (OpenSearch Index State Management) and
  ``policies/ilm-rollover.json`` (Elasticsearch Index Lifecycle Management): a suggested
  rollover and retention; neither plugin is part of the OSS test distributions.

Design rules (every mapping works on OpenSearch 2.x and Elasticsearch 7.10 OSS, with no
ingest pipeline and no script):

- ``dynamic: false`` at the root: a field we do not map stays in ``_source`` but never adds a
  mapping, so 100k members (ids are values, never keys) and future additive schema versions
  cannot grow the mapping. Not ``strict``: that would reject every event of a newer minor
  schema version instead of storing it.
- ``raw`` (native) is an object with ``enabled: false`` and ``raw_data`` (OCSF) a keyword that
  is neither indexed nor has doc values: kept in ``_source``, never parsed. Dropbox unions
  (``.tag`` keys) cannot be mapped by name in either engine, and an object holding one cannot
  be mapped at all (the document is rejected): such objects are left unmapped (kept in
  ``_source``, skipped by the parser). The audit ``details`` union varies its value types by
  event type, so it is kept unparsed too.
- Timestamps are ``date`` (native: ISO 8601; OCSF: epoch milliseconds), IP addresses ``ip``
  with ``ignore_malformed`` (a value that is not an IP is kept in ``_source`` and listed in
  ``_ignored`` instead of rejecting the event), ids and enumerations ``keyword`` with
  ``ignore_above`` (a longer value is not indexed instead of failing the document).
- ``@timestamp`` is a field alias of the event time, for dashboards that expect it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "deploy" / "opensearch"
STREAMS = ("team", "members", "sessions", "apps", "audit")
FORMATS = ("native", "ocsf")
TEMPLATE_VERSION = 1  # bump when a mapping changes: installs then replace older templates
PRIORITY = 200

JSON = dict[str, Any]

# --- field types ---------------------------------------------------------------------------------

KEYWORD: JSON = {"type": "keyword", "ignore_above": 1024}
TEXT: JSON = {"type": "text"}
DATE: JSON = {"type": "date"}  # strict_date_optional_time||epoch_millis: ISO 8601 with Z
DATE_LENIENT: JSON = {"type": "date", "ignore_malformed": True}
# OCSF timestamps are epoch milliseconds; ISO dates are accepted too in queries ("gte":
# "2026-03-01T12:00:00Z" or date math anchored at one)
EPOCH_MS: JSON = {"type": "date", "format": "epoch_millis||strict_date_optional_time"}
IP: JSON = {"type": "ip", "ignore_malformed": True}
BOOLEAN: JSON = {"type": "boolean"}
INTEGER: JSON = {"type": "integer"}
LONG: JSON = {"type": "long"}
STORED_ONLY: JSON = {"type": "object", "enabled": False}
STORED_TEXT: JSON = {"type": "keyword", "index": False, "doc_values": False}


def obj(**properties: JSON) -> JSON:
    return {"properties": properties}


def keywords(*names: str) -> dict[str, JSON]:
    return dict.fromkeys(names, KEYWORD)


# --- the native envelope (docs/events.md) --------------------------------------------------------


def native_mappings() -> JSON:
    return {
        "dynamic": False,
        "_meta": {"format": "native", "schema_version": "1.0"},
        "properties": {
            "@timestamp": {"type": "alias", "path": "event_time"},
            **keywords("event_id", "event_type", "schema_version"),
            "event_time": DATE,
            "observed_time": DATE,
            "team": obj(**keywords("id", "name")),
            "user": obj(
                **keywords("team_member_id", "account_id", "email", "name", "status"),
                **keywords("external_id"),
            ),
            "network": obj(ip_address=IP, **keywords("country", "city", "region")),
            "device": obj(
                **keywords("kind", "session_id", "client_type", "client_version", "os"),
                **keywords("os_version", "browser", "user_agent", "host_name", "device_name"),
                **keywords("platform", "last_carrier"),
                is_delete_on_unlink_supported=BOOLEAN,
                created=DATE,
                updated=DATE,
                expires=DATE,
            ),
            "app": obj(
                **keywords("app_id", "app_name", "publisher", "publisher_url"),
                linked=DATE,
                is_app_folder=BOOLEAN,
            ),
            "member": obj(
                **keywords("given_name", "surname", "familiar_name"),
                **keywords("abbreviated_name", "membership_type", "persistent_id", "groups"),
                **keywords("member_folder_id", "root_folder_id"),
                email_verified=BOOLEAN,
                is_directory_restricted=BOOLEAN,
                secondary_emails=obj(email=KEYWORD, is_verified=BOOLEAN),
                roles=obj(**keywords("role_id", "name")),
                invited_on=DATE,
                joined_on=DATE,
                suspended_on=DATE,
                status_details=obj(is_recoverable=BOOLEAN, is_disconnected=BOOLEAN),
                profile_photo_url=STORED_TEXT,
            ),
            # the keys of `changes` are field names; team.changed uses dotted setting paths,
            # which dynamic: false leaves unmapped. The member and session fields a detection
            # asks about are mapped with their types.
            "changes": obj(
                **{
                    name: obj(old=KEYWORD, new=KEYWORD)
                    for name in ("status", "email", "country", "external_id", "groups")
                },
                **{name: obj(old=KEYWORD, new=KEYWORD) for name in ("display_name", "surname")},
                ip_address=obj(old=IP, new=IP),
            ),
            "activity": obj(
                last_seen=DATE,
                last_ip_address=IP,
                last_country=KEYWORD,
                active_web_sessions=INTEGER,
                desktop_clients=INTEGER,
                mobile_clients=INTEGER,
                linked_apps=INTEGER,
            ),
            # Only the parts of a team_log record without union tags are mapped: both engines
            # reject a document whose *mapped* object holds a ".tag" key (an empty field name
            # before the dot), while an unmapped object is skipped whole. So actor, context,
            # participants, assets and access_method stay in _source only; who acted is the
            # envelope's `user`, from where its `network` and `device`.
            "audit": obj(
                **keywords("category", "type"),
                description=TEXT,
                involve_non_team_member=BOOLEAN,
                origin=obj(
                    geo_location=obj(ip_address=IP, **keywords("country", "city", "region"))
                ),
                details=STORED_ONLY,
            ),
            "settings": STORED_ONLY,
            "raw": STORED_ONLY,
        },
    }


# --- OCSF 1.8.0 as we emit it (docs/ocsf.md) -----------------------------------------------------

LOCATION = obj(**keywords("city", "country", "region", "desc"))


def ocsf_user() -> JSON:
    return obj(
        **keywords("uid", "name", "email_addr", "full_name", "type", "uid_alt"),
        type_id=INTEGER,
        account=obj(**keywords("uid", "name", "type"), type_id=INTEGER),
        org=obj(**keywords("uid", "name")),
        groups=obj(**keywords("uid", "name")),
    )


def ocsf_device() -> JSON:
    return obj(
        **keywords("uid", "name", "hostname", "type", "model"),
        type_id=INTEGER,
        ip=IP,
        os=obj(**keywords("name", "type", "version"), type_id=INTEGER),
        location=LOCATION,
        owner=ocsf_user(),
        created_time=EPOCH_MS,
        last_seen_time=EPOCH_MS,
    )


def ocsf_entity() -> JSON:
    return obj(
        **keywords("uid", "name", "type"),
        type_id=INTEGER,
        device=ocsf_device(),
        user=ocsf_user(),
        org=obj(**keywords("uid", "name")),
        data=STORED_ONLY,  # team settings or app details: free-form, kept unparsed
    )


def ocsf_mappings() -> JSON:
    session = obj(**keywords("uid", "issuer"), created_time=EPOCH_MS, expiration_time=EPOCH_MS)
    return {
        "dynamic": False,
        "_meta": {"format": "ocsf", "ocsf_version": "1.8.0"},
        "properties": {
            "@timestamp": {"type": "alias", "path": "time"},
            "time": EPOCH_MS,
            **dict.fromkeys(
                ("class_uid", "category_uid", "activity_id", "severity_id", "status_id"), INTEGER
            ),
            "type_uid": LONG,
            **keywords("class_name", "category_name", "activity_name", "type_name"),
            **keywords("severity", "status", "status_detail"),
            "message": TEXT,
            "metadata": obj(
                **keywords("uid", "version", "event_code", "tenant_uid"),
                logged_time=EPOCH_MS,
                original_time=DATE_LENIENT,
                product=obj(**keywords("name", "vendor_name", "version")),
            ),
            "user": ocsf_user(),
            "user_result": ocsf_user(),
            "actor": obj(
                user=ocsf_user(),
                session=session,
                **keywords("app_uid", "app_name", "invoked_by"),
            ),
            "session": session,
            "src_endpoint": obj(ip=IP, location=LOCATION),
            "device": ocsf_device(),
            "entity": ocsf_entity(),
            "entity_result": ocsf_entity(),
            "resources": obj(
                **keywords("uid", "name", "type"), owner=ocsf_user(), data=STORED_ONLY
            ),
            "service": obj(name=KEYWORD),
            "http_request": obj(user_agent=KEYWORD),
            "auth_protocol": KEYWORD,
            "auth_protocol_id": INTEGER,
            "is_mfa": BOOLEAN,
            "file": obj(**keywords("uid", "name", "path", "type"), size=LONG, type_id=INTEGER),
            "group": obj(**keywords("uid", "name")),
            # the native envelope (without raw): its event type, and the member's roles (OCSF
            # has no attribute for role names)
            "unmapped": obj(
                event_type=KEYWORD, member=obj(roles=obj(**keywords("role_id", "name")))
            ),
            "raw_data": STORED_TEXT,
        },
    }


# --- templates -----------------------------------------------------------------------------------


def settings_component() -> JSON:
    return {
        "version": TEMPLATE_VERSION,
        "_meta": {"description": "dropbox-streamer: index settings of every dropbox-* index"},
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    # one replica once a second node exists; none on a single node (green)
                    "auto_expand_replicas": "0-1",
                    "refresh_interval": "5s",
                    # snapshots and raw records compress well; search speed is unaffected
                    "codec": "best_compression",
                    "mapping": {"total_fields": {"limit": 1000}},
                }
            }
        },
    }


def mappings_component(fmt: str) -> JSON:
    mappings = native_mappings() if fmt == "native" else ocsf_mappings()
    return {
        "version": TEMPLATE_VERSION,
        "_meta": {"description": f"dropbox-streamer: field mappings of {fmt} events"},
        "template": {"mappings": mappings},
    }


def index_template(fmt: str, stream: str) -> JSON:
    alias = f"dropbox-{fmt}-{stream}"
    return {
        "index_patterns": [f"{alias}-*"],
        "priority": PRIORITY,
        "version": TEMPLATE_VERSION,
        "composed_of": ["dropbox-settings", f"dropbox-{fmt}-mappings"],
        "_meta": {
            "description": f"dropbox-streamer: {stream} events ({fmt}); write alias {alias}",
            "write_alias": alias,
        },
    }


def ism_policy() -> JSON:
    """OpenSearch ISM: roll over at 30 GB per primary shard or 30 days, delete after a year."""
    return {
        "policy": {
            "description": "dropbox-streamer: roll over monthly or at 30 GB, keep one year",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [
                        {"rollover": {"min_primary_shard_size": "30gb", "min_index_age": "30d"}}
                    ],
                    "transitions": [
                        {"state_name": "delete", "conditions": {"min_index_age": "365d"}}
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [{"index_patterns": ["dropbox-*"], "priority": PRIORITY}],
        }
    }


def ilm_policy() -> JSON:
    """Elasticsearch ILM (7.10 has no max_primary_shard_size: max_size counts all primaries)."""
    return {
        "policy": {
            "phases": {
                "hot": {"actions": {"rollover": {"max_size": "30gb", "max_age": "30d"}}},
                "delete": {"min_age": "365d", "actions": {"delete": {}}},
            }
        }
    }


def files() -> dict[str, JSON]:
    """Relative path under deploy/opensearch -> content."""
    out: dict[str, JSON] = {"component_templates/dropbox-settings.json": settings_component()}
    for fmt in FORMATS:
        out[f"component_templates/dropbox-{fmt}-mappings.json"] = mappings_component(fmt)
        for stream in STREAMS:
            out[f"index_templates/dropbox-{fmt}-{stream}.json"] = index_template(fmt, stream)
    out["policies/ism-rollover.json"] = ism_policy()
    out["policies/ilm-rollover.json"] = ilm_policy()
    return out


def render(content: JSON) -> str:
    return json.dumps(content, indent=2) + "\n"


def main(argv: list[str]) -> int:
    rendered = {OUT / path: render(content) for path, content in files().items()}
    if "--check" in argv:
        stale = [p for p, text in rendered.items() if not p.exists() or p.read_text() != text]
        known = {p.relative_to(OUT) for p in rendered}
        extra = [p for p in OUT.rglob("*.json") if p.relative_to(OUT) not in known]
        for path in [*stale, *extra]:
            print(f"{path} is stale: run `python scripts/gen_search_templates.py`", file=sys.stderr)
        return 1 if stale or extra else 0
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered)} files under {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
