"""The store of one stream's states: subject -> packed state (JSON bytes), held compressed.

A large team's states are most of the worker's memory (100k members: 100-120 MB of JSON).
The values of one store are alike (same keys, same enum values, similar ids), so once a store
holds ``TRAIN_AT`` (20,000) values it trains a small zstd dictionary on them and from then on keeps
every value compressed with it: ~3x smaller (members ~4x, sessions ~2.5x), 2-4 µs to compress
a value and ~1 µs to decompress one (see ``docs/events.md``). Small stores never train and hold
plain JSON as before.

The compressed form never leaves the store: reading a subject gives the plain JSON bytes, and
Kafka keeps getting exactly what it got before (the state topic format is unchanged). A read
of a compressed value gives a fresh ``bytes`` object each time; callers that diff against it
rely only on getting back the very object they passed in (``state is not previous``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Final, TypeVar, overload

import zstandard

__all__ = ["DICT_SIZE", "LEVEL", "SAMPLES", "TRAIN_AT", "StateStore"]

TRAIN_AT: Final = 20_000
"""A store trains its dictionary once it holds this many values; smaller stores stay plain.
Below it the store is under ~10 MB and compression would cost more than it saves: on a
10k-member first sync it took 45 -> 47-51 CPU ms per 1000 events (compress at commit, train,
decompress at every directory and peer read)."""
SAMPLES: Final = 2000
"""At most this many values train it (1000 and 2000 give the same ratio on simulator data)."""
DICT_SIZE: Final = 16 * 1024
LEVEL: Final = 3

# Every zstd frame starts with this magic; JSON never starts with "(" (0x28), so the first
# bytes tell a compressed value from a plain one without a flag per value.
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_MISSING: Final = object()
_T = TypeVar("_T")


class StateStore(MutableMapping[str, bytes]):
    """subject -> the state's JSON bytes; values compressed in memory once the store is large.

    Subjects are ``sys.intern``ed: a member id is one str shared by the members, sessions and
    apps stores (and the events that name it).
    """

    __slots__ = ("_compressor", "_decompressor", "_train_at", "_values")

    def __init__(self, values: Iterable[tuple[str, bytes]] = (), *, train_at: int = TRAIN_AT):
        self._values: dict[str, bytes] = {}
        # one (de)compressor per store, made when the store trains (zstd contexts are reusable)
        self._compressor: zstandard.ZstdCompressor | None = None
        self._decompressor: zstandard.ZstdDecompressor | None = None
        self._train_at = max(1, train_at)
        for subject, value in values:
            self[subject] = value

    @property
    def compressed(self) -> bool:
        """Whether the store has its dictionary (new values are stored compressed)."""
        return self._compressor is not None

    def __getitem__(self, subject: str) -> bytes:
        return self._plain(self._values[subject])

    @overload
    def get(self, subject: str, /) -> bytes | None: ...
    @overload
    def get(self, subject: str, default: bytes | _T, /) -> bytes | _T: ...
    def get(self, subject: str, default: object = None, /) -> object:
        value = self._values.get(subject)
        return default if value is None else self._plain(value)

    def __setitem__(self, subject: str, value: bytes) -> None:
        if self._compressor is not None:
            value = self._pack(self._compressor, value)
        self._values[sys.intern(subject)] = value
        if self._compressor is None and len(self._values) >= self._train_at:
            self._train()

    def __delitem__(self, subject: str) -> None:
        del self._values[subject]

    @overload
    def pop(self, subject: str, /) -> bytes: ...
    @overload
    def pop(self, subject: str, default: bytes | _T, /) -> bytes | _T: ...
    def pop(self, subject: str, default: object = _MISSING, /) -> object:
        value = self._values.pop(subject, None)
        if value is not None:
            return self._plain(value)
        if default is _MISSING:
            raise KeyError(subject)
        return default

    def __contains__(self, subject: object) -> bool:
        return subject in self._values  # no decompression (Mapping's default reads the value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        # never the values: they are members' personal data (emails, names, IPs)
        form = "compressed" if self.compressed else "plain"
        return f"<StateStore {len(self._values)} subjects, {form}>"

    def stored_bytes(self) -> int:
        """The bytes the values take in memory (compressed or not; for measurements)."""
        return sum(len(v) for v in self._values.values())

    def _plain(self, value: bytes) -> bytes:
        if self._decompressor is not None and value.startswith(_ZSTD_MAGIC):
            return self._decompressor.decompress(value)
        return value

    @staticmethod
    def _pack(compressor: zstandard.ZstdCompressor, value: bytes) -> bytes:
        packed = compressor.compress(value)
        if len(packed) >= len(value):
            return value  # does not get smaller (tiny or unlike the dictionary): keep it plain
        # a right-sized copy: the result is cut from a compress-bound buffer, and hundreds of
        # thousands of shrunk buffers alive fragment the heap (see packed.pack_state)
        return bytes(memoryview(packed))

    def _train(self) -> None:
        """Train the dictionary on this store's values, then compress every value once."""
        values = list(self._values.values())
        step = max(1, len(values) // SAMPLES)
        samples: list[bytes | bytearray | memoryview] = [*values[::step][:SAMPLES]]
        try:
            trained = zstandard.train_dictionary(DICT_SIZE, samples)
        except zstandard.ZstdError:
            # too few or too alike samples: stay plain, try again once the store has doubled
            self._train_at = 2 * len(self._values)
            return
        compressor = zstandard.ZstdCompressor(
            level=LEVEL,
            dict_data=trained,
            # what each value would repeat: the store knows its dictionary; the length of the
            # plain value stays in the frame (decompress needs it)
            write_checksum=False,
            write_dict_id=False,
        )
        self._compressor = compressor
        self._decompressor = zstandard.ZstdDecompressor(dict_data=trained)
        for subject, value in list(self._values.items()):
            self._values[subject] = self._pack(compressor, value)
