"""The OCSF schema version, and the classes and activities this mapping emits."""

from __future__ import annotations

from typing import Any

OCSF_VERSION = "1.8.0"
"""The OCSF schema version every OCSF event claims (``metadata.version``) and is tested against."""


# class_uid -> (class name, category_uid, category name, {activity_id: activity name})
CLASSES: dict[int, tuple[str, int, str, dict[int, str]]] = {
    0: ("Base Event", 0, "Uncategorized", {0: "Unknown", 99: "Other"}),
    3001: (
        "Account Change",
        3,
        "Identity & Access Management",
        {
            1: "Create",
            2: "Enable",
            3: "Password Change",
            4: "Password Reset",
            5: "Disable",
            6: "Delete",
            10: "MFA Factor Enable",
            11: "MFA Factor Disable",
            99: "Other",
        },
    ),
    3002: (
        "Authentication",
        3,
        "Identity & Access Management",
        {1: "Logon", 2: "Logoff", 99: "Other"},
    ),
    3004: (
        "Entity Management",
        3,
        "Identity & Access Management",
        {1: "Create", 3: "Update", 4: "Delete", 6: "Enroll", 7: "Unenroll", 99: "Other"},
    ),
    3006: (
        "Group Management",
        3,
        "Identity & Access Management",
        {3: "Add User", 4: "Remove User", 5: "Delete", 6: "Create", 99: "Other"},
    ),
    5001: ("Device Inventory Info", 5, "Discovery", {2: "Collect"}),
    5003: ("User Inventory Info", 5, "Discovery", {2: "Collect"}),
    5023: ("Cloud Resources Inventory Info", 5, "Discovery", {2: "Collect"}),
    6006: (
        "File Hosting Activity",
        6,
        "Application Activity",
        {
            1: "Upload",
            2: "Download",
            3: "Update",
            4: "Delete",
            5: "Rename",
            6: "Copy",
            7: "Move",
            8: "Restore",
            9: "Preview",
            10: "Lock",
            11: "Unlock",
            12: "Share",
            13: "Unshare",
            14: "Open",
            99: "Other",
        },
    ),
}
"""The OCSF classes and activities this mapping emits (names as in the schema; tested)."""


BASE, ACCOUNT_CHANGE, AUTHENTICATION, ENTITY_MANAGEMENT, GROUP_MANAGEMENT = (
    0,
    3001,
    3002,
    3004,
    3006,
)


DEVICE_INVENTORY, USER_INVENTORY, CLOUD_INVENTORY, FILE_HOSTING = 5001, 5003, 5023, 6006


OTHER = 99


COLLECT = 2


SUCCESS, FAILURE = 1, 2


Json = dict[str, Any]
