"""Events: what the streams emit, built from API records and states. Pure, no I/O.

By entity, each module holding its state shape, its diff (``entity.Entity``'s signature)
and its event builders::

    members    member state, lifecycle and update events, the directory's user part
    sessions   web sessions and desktop/mobile clients of a member
    apps       linked apps of a member
    team       the team's settings (info, policies, features)
    audit      one event per team-log record
    activity   member.activity, summed up from the member's three states

Shared: ``envelope`` (the ``Event`` and its parts; ``EventContext.event`` builds the header
every event shares), ``ids`` (deterministic event ids), ``entity`` (what the listing
reconciler needs of an entity), ``formats`` and ``ocsf/`` (an event as a Kafka record value).
"""
