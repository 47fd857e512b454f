"""Validate OCSF events against the JSON Schema of the pinned OCSF version.

The schema comes from the ``ocsf-json-schema`` package, which ships the official OCSF schema
exports (``schema.ocsf.io/<version>/export/schema``) and turns a class into a JSON Schema
(draft 2020-12: required attributes, enums, ``additionalProperties: false``, the
``at_least_one`` / ``just_one`` constraints, every referenced object embedded). Validation is
the ``jsonschema`` package's. Nothing here is a hand-written validator; ``check_ocsf`` only adds
what JSON Schema cannot say: the ``*_name`` siblings must be the captions of their ``*_id``
enums, and ``type_uid`` must be ``class_uid * 100 + activity_id``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema, get_packaged_versions

from streamer.events.ocsf import OCSF_VERSION


@cache
def ocsf_schema() -> OcsfJsonSchemaEmbedded:
    assert OCSF_VERSION in get_packaged_versions(), (
        f"ocsf-json-schema does not ship OCSF {OCSF_VERSION}"
    )
    return OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))


@cache
def raw_schema() -> dict[str, Any]:
    """The OCSF export itself (classes, objects, dictionary) of the pinned version."""
    schema: dict[str, Any] = get_ocsf_schema(version=OCSF_VERSION)
    return schema


@cache
def class_validator(class_uid: int) -> jsonschema.protocols.Validator:
    schema = ocsf_schema()
    json_schema = schema.get_class_schema(schema.lookup_class_name_from_uid(class_uid))
    cls = jsonschema.validators.validator_for(json_schema)
    cls.check_schema(json_schema)
    validator: jsonschema.protocols.Validator = cls(json_schema)
    return validator


def class_info(class_uid: int) -> dict[str, Any]:
    schema = ocsf_schema()
    info: dict[str, Any] = raw_schema()["classes"][schema.lookup_class_name_from_uid(class_uid)]
    return info


def captions(class_uid: int, attribute: str) -> dict[int, str]:
    enum = class_info(class_uid)["attributes"][attribute]["enum"]
    return {int(k): v["caption"] for k, v in enum.items()}


def ocsf_errors(data: dict[str, Any]) -> list[str]:
    """Every schema violation of one OCSF event, as readable lines (empty: valid)."""
    validator = class_validator(data["class_uid"])
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    out = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
    class_uid, activity_id = data["class_uid"], data["activity_id"]
    if data["metadata"]["version"] != OCSF_VERSION:
        out.append(f"metadata.version {data['metadata']['version']} != {OCSF_VERSION}")
    if data["type_uid"] != class_uid * 100 + activity_id:
        out.append(f"type_uid {data['type_uid']} != class_uid * 100 + activity_id")
    # *_name siblings: the caption of their *_id (activity 99 "Other": the source's own name)
    siblings = {
        "class_uid": "class_name",
        "category_uid": "category_name",
        "type_uid": "type_name",
        "severity_id": "severity",
        "status_id": "status",
    }
    if activity_id != 99:
        siblings["activity_id"] = "activity_name"
    elif not data.get("activity_name"):
        out.append("activity 99 (Other) without an activity_name")
    for attribute, sibling in siblings.items():
        if attribute in data:
            expected = captions(class_uid, attribute).get(data[attribute])
            if data.get(sibling) != expected:
                out.append(f"{sibling} {data.get(sibling)!r} != caption {expected!r}")
    return out


def check_ocsf(data: dict[str, Any]) -> None:
    """Raise ``AssertionError`` listing every problem of an OCSF event."""
    errors = ocsf_errors(data)
    assert not errors, f"invalid OCSF {data.get('class_name')}: " + "; ".join(errors)
