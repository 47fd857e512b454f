"""StateStore: plain JSON bytes out, compressed in memory once a map trains its dictionary."""

from __future__ import annotations

import sys
from collections import defaultdict
from functools import cache

import pytest
import zstandard
from event_support import ctx

from streamer.dropbox.models import TeamMemberInfoV2, parse_members
from streamer.events.envelope import EventContext
from streamer.events.members import diff_member, member_state
from streamer.simulator.world import World
from streamer.state import TRAIN_AT, StateStore, fold_record, pack_state

MAGIC = b"\x28\xb5\x2f\xfd"


@cache
def members() -> tuple[TeamMemberInfoV2, ...]:
    world = World(members=TRAIN_AT + 200, seed=7)
    return tuple(parse_members([world.member_info(m) for m in world.member_order()]).ok)


@cache
def states() -> dict[str, bytes]:
    """Real member states of a simulated team (what the members stream stores)."""
    packed = {m.profile.team_member_id: pack_state(member_state(m)) for m in members()}
    return {subject: value for subject, value in packed.items() if value is not None}


def filled(count: int, *, train_at: int = TRAIN_AT) -> StateStore:
    store = StateStore(train_at=train_at)
    for subject, value in list(states().items())[:count]:
        store[subject] = value
    return store


def raw(store: StateStore) -> dict[str, bytes]:
    """What the store holds in memory (white box: compressed or plain)."""
    return dict(store._values)


def test_a_small_map_stays_plain() -> None:
    store = filled(TRAIN_AT - 1)
    assert not store.compressed
    assert raw(store) == dict(list(states().items())[: TRAIN_AT - 1])
    assert all(not v.startswith(MAGIC) for v in raw(store).values())


def test_training_recompresses_every_value_and_round_trips() -> None:
    store = filled(TRAIN_AT - 1)
    assert not store.compressed
    before = dict(store.items())
    subject, value = list(states().items())[TRAIN_AT - 1]
    store[subject] = value  # the value that makes the map large enough
    assert store.compressed
    assert all(v.startswith(MAGIC) for v in raw(store).values())
    assert store.stored_bytes() * 2 < sum(map(len, before.values())) + len(value)
    assert dict(store.items()) == {**before, subject: value}
    assert store[subject] == value
    assert store.get(subject) == value


def test_values_stored_after_training_are_compressed_and_read_back_plain() -> None:
    store = filled(len(states()))
    assert store.compressed
    for subject, value in states().items():
        assert raw(store)[subject].startswith(MAGIC)
        assert store[subject] == value
        assert store.get(subject) == value
    changed = states()[next(iter(states()))].replace(b'"active"', b'"suspended"')
    store["dbmid:x"] = changed
    assert raw(store)["dbmid:x"].startswith(MAGIC)
    assert store["dbmid:x"] == changed


def test_a_value_that_does_not_get_smaller_stays_plain() -> None:
    store = filled(TRAIN_AT)
    assert store.compressed
    tiny = b"{}"
    store["~meta"] = tiny
    assert raw(store)["~meta"] is tiny
    assert store["~meta"] == tiny


def test_a_map_of_values_that_do_not_compress_reads_back_plain() -> None:
    store = StateStore(train_at=10)
    for i in range(20):
        store[f"s{i}"] = b"{}"
    assert store.compressed  # zstd does train on these, but nothing gets smaller
    assert set(raw(store).values()) == {b"{}"}
    assert dict(store) == {f"s{i}": b"{}" for i in range(20)}


def test_a_failed_training_stays_plain_and_retries_once_the_map_doubled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = zstandard.train_dictionary

    def refuse(size: int, samples: list[bytes]) -> zstandard.ZstdCompressionDict:
        calls.append(len(samples))
        raise zstandard.ZstdError("cannot train dict: Src size is incorrect")

    monkeypatch.setattr(zstandard, "train_dictionary", refuse)
    store = filled(99, train_at=50)
    assert calls == [50]  # tried at 50, not again before 100
    assert not store.compressed
    assert dict(store) == dict(list(states().items())[:99])
    monkeypatch.setattr(zstandard, "train_dictionary", real)
    subject, value = list(states().items())[99]
    store[subject] = value
    assert store.compressed  # the second try, at twice the size
    assert dict(store) == dict(list(states().items())[:100])


def test_mapping_operations_behave_as_a_dict() -> None:
    store = filled(TRAIN_AT + 10)
    expected = dict(list(states().items())[: TRAIN_AT + 10])
    assert len(store) == len(expected)
    assert list(store) == list(expected)
    assert list(store.keys()) == list(expected)
    first, second = list(expected)[:2]
    assert first in store
    assert "dbmid:absent" not in store
    assert store.get("dbmid:absent") is None
    assert store.get("dbmid:absent", b"{}") == b"{}"
    with pytest.raises(KeyError):
        store["dbmid:absent"]
    assert store.pop(first) == expected.pop(first)
    assert store.pop(first, None) is None
    with pytest.raises(KeyError):
        store.pop(first)
    del store[second]
    del expected[second]
    with pytest.raises(KeyError):
        del store[second]
    assert len(store) == len(expected)
    assert dict(store) == expected
    assert store == expected


def test_subjects_are_interned() -> None:
    store = StateStore()
    subject = "".join(["dbmid:", "AAH"])  # built at run time: not interned
    store[subject] = b"{}"
    assert next(iter(store)) is sys.intern("dbmid:AAH")


def test_repr_shows_no_values() -> None:
    store = filled(TRAIN_AT)
    shown = repr(store)
    assert shown == f"<StateStore {TRAIN_AT} subjects, compressed>"
    assert "@" not in shown


def test_folding_state_records_fills_the_stores() -> None:
    maps: defaultdict[str, StateStore] = defaultdict(StateStore)
    for subject, value in states().items():
        fold_record(maps, f"acme/members/{subject}".encode(), value)
    store = maps["acme/members"]
    assert isinstance(store, StateStore)
    assert store.compressed
    assert dict(store) == states()
    first = next(iter(states()))
    fold_record(maps, f"acme/members/{first}".encode(), None)
    assert first not in store


def unchanged_diff(store: StateStore, record: TeamMemberInfoV2, ectx: EventContext) -> bool:
    """The inventory stream's test: a state to write unless the diff handed back `previous`."""
    previous = store.get(record.profile.team_member_id)
    events, state = diff_member(previous, record, None, ectx)
    return not events and state is previous


@pytest.mark.parametrize("count", [10, TRAIN_AT + 10])
def test_an_unchanged_subject_diffs_to_the_very_object_read(count: int) -> None:
    store = filled(count)
    assert store.compressed == (count >= TRAIN_AT)
    ectx = ctx()
    for record in members()[:count]:
        assert unchanged_diff(store, record, ectx)
    # each read of a compressed value is a fresh object, equal to the stored JSON
    subject = members()[0].profile.team_member_id
    assert store.get(subject) == store.get(subject)


def test_a_changed_subject_diffs_to_a_new_state_that_reads_back() -> None:
    store = filled(TRAIN_AT + 10)
    record = members()[0]
    subject = record.profile.team_member_id
    previous = store.get(subject)
    assert previous is not None
    # a state from another member: the diff sees a change and returns a new object
    other = members()[1].model_copy(
        update={"profile": members()[1].profile.model_copy(update={"team_member_id": subject})}
    )
    _, state = diff_member(previous, other, None, ctx())
    assert state is not previous
    packed = pack_state(state)
    assert packed is not None
    store[subject] = packed
    assert store[subject] == packed


def test_zstd_refusing_too_few_samples_leaves_the_map_plain_until_it_grew() -> None:
    store = filled(11, train_at=3)  # zstd refuses 3 and 6 states: too little to train on
    assert not store.compressed
    assert raw(store) == dict(list(states().items())[:11])
    subject, value = list(states().items())[11]
    store[subject] = value
    assert store.compressed  # 12 is enough
    assert dict(store) == dict(list(states().items())[:12])
