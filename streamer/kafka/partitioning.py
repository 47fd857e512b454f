"""Which partition a key goes to: the Java client's rule (murmur2 of the key, made positive,
modulo the partition count), so our records land where any Kafka client would put them.

Same result as aiokafka's ``DefaultPartitioner`` (checked by a unit test over random keys),
about 2x faster: the 4-byte blocks are unpacked in one call instead of byte by byte.
"""

from __future__ import annotations

import struct

__all__ = ["murmur2", "partition_for"]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``) as an unsigned int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    blocks = length >> 2
    for k in struct.unpack_from(f"<{blocks}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    rest = length & 3
    if rest:
        tail = length & ~3
        if rest >= 3:
            h ^= data[tail + 2] << 16
        if rest >= 2:
            h ^= data[tail + 1] << 8
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


_HASHES: dict[bytes, int] = {}
_HASHES_MAX = 1 << 15
"""Positive murmur2 of recent keys: a member's key recurs in the members, sessions, apps and
audit topics. Emptied when full, so bounded (~5 MB) whatever the team size."""


def partition_for(key: bytes, partitions: int, *, remember: bool = True) -> int:
    """The partition (0-based) of ``key`` among ``partitions``: positive murmur2 modulo count.

    ``remember=False`` for keys that do not recur soon (state keys name one subject of one
    stream): kept, they would push the member keys out of the cache.
    """
    h = _HASHES.get(key)
    if h is None:
        h = murmur2(key) & 0x7FFFFFFF
        if remember:
            if len(_HASHES) >= _HASHES_MAX:
                _HASHES.clear()
            _HASHES[key] = h
    return h % partitions
