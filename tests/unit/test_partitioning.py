import os
import random

from aiokafka.partitioner import DefaultPartitioner, murmur2

from streamer.kafka.partitioning import murmur2 as fast_murmur2
from streamer.kafka.partitioning import partition_for


def test_murmur2_matches_aiokafka_and_the_java_client() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        data = os.urandom(rng.randint(0, 90))
        assert fast_murmur2(data) == murmur2(data) & 0xFFFFFFFF
    # a value from the Java client's own tests (Utils.murmur2 of "21" is -973932308)
    assert fast_murmur2(b"21") == -973932308 & 0xFFFFFFFF


def test_partition_is_what_aiokafkas_default_partitioner_picks() -> None:
    partitioner = DefaultPartitioner()
    rng = random.Random(3)
    for _ in range(2000):
        key = f"dbmid:{rng.getrandbits(160):x}".encode()
        for count in (1, 3, 6, 12):
            every = list(range(count))
            assert partition_for(key, count) == partitioner(key, every, every)


def test_the_hash_cache_stays_bounded_and_answers_as_before() -> None:
    from streamer.kafka import partitioning

    keys = [f"dbmid:{i}".encode() for i in range(partitioning._HASHES_MAX + 10)]
    for key in keys:
        assert partition_for(key, 7) == (murmur2(key) & 0x7FFFFFFF) % 7
    assert len(partitioning._HASHES) <= partitioning._HASHES_MAX
    for key in keys[:100]:  # evicted or not, the same answer again, for another count too
        assert partition_for(key, 12) == (murmur2(key) & 0x7FFFFFFF) % 12


def test_keys_not_remembered_leave_the_cache_alone() -> None:
    from streamer.kafka import partitioning

    partitioning._HASHES.clear()
    member = b"dbmid:member"
    partition_for(member, 6)
    for i in range(1000):
        key = f"acme/sessions/dbmid:{i}".encode()
        assert partition_for(key, 6, remember=False) == (murmur2(key) & 0x7FFFFFFF) % 6
    assert list(partitioning._HASHES) == [member]
