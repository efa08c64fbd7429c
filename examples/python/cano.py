"""cano - Python binding for libcano, an embeddable Kafka-style log store.

Pure ctypes: nothing to compile.  Copy this one file next to your program
(or anywhere on sys.path); it needs the shared library libcano.so.0, found as

1. the full path in the environment variable CANO_LIB, else
2. ctypes.util.find_library("cano") (an installed library), else
3. "libcano.so.0" through the dynamic loader's normal search, else
4. libcano.so.0 two directories above this file (a source checkout).

Example::

    import cano

    with cano.Store("demo-store") as store:
        events = store.create_topic("events", partitions=3, exist_ok=True)
        partition, offset = events.append(b"login", key="user-42")
        for rec in events.read(partition, offset):
            print(rec.offset, rec.key, rec.value)
        with events.reader(partition, group="mailer") as reader:
            for rec in reader:              # every record up to the end
                ...
            rec = reader.next(timeout_ms=1000)   # or wait for the next one
            reader.commit()                 # the group resumes here later

Keys, values and header parts are bytes-like objects or str (encoded as
UTF-8) on the way in, and always bytes on the way out.  A value of None is a
tombstone; a key of None means no key (b"" is an empty key, which differs).
Every failure of the library raises cano.Error (or one of its subclasses)
whose .code is the negative CANO_E* number and .name its symbol.

Threads: a Store, its Topics and the Readers may be used from any number of
threads (the library releases the GIL while it works).  A Reader serves one
call at a time.  Store.close() waits for calls in progress in other threads,
wakes readers waiting in Reader.next() (they raise cano.Closed) and closes
every reader still open; afterwards every call raises cano.Closed.
"""

import ctypes
import ctypes.util
import dataclasses
import os
import threading
import time
import weakref
from collections import namedtuple
from typing import Optional, Tuple

__all__ = [
    "Store", "Topic", "Reader", "Record", "TopicConfig", "PartitionInfo",
    "GroupInfo", "RecoveryInfo", "Appended",
    "Error", "InvalidArgument", "OutOfMemory", "IOFailure", "NoSpace",
    "Locked", "NotFound", "Exists", "Corrupt", "OffsetOutOfRange", "TooBig",
    "TimedOut", "Closed", "Fatal", "SequenceError",
    "version", "version_number", "strerror",
    "PARTITION_AUTO", "OFFSET_LATEST", "OFFSET_EARLIEST", "AUTO", "LATEST",
    "EARLIEST",
]

# ---------------------------------------------------------------------------
# Constants: the CANO_* values of cano.h (frozen numbers).

OK = 0
EINVAL = -1
ENOMEM = -2
EIO = -3
ENOSPC = -4
ELOCKED = -5
ENOTFOUND = -6
EEXIST = -7
ECORRUPT = -8
EOFFSET = -9
ETOOBIG = -10
ETIMEDOUT = -11
ECLOSED = -12
EFATAL = -13
ESEQUENCE = -14

PARTITION_AUTO = AUTO = -1
OFFSET_LATEST = LATEST = -1
OFFSET_EARLIEST = EARLIEST = -2

SYNC_DEFAULT = 0
SYNC_NONE = 1
SYNC_INTERVAL = 2
SYNC_ALWAYS = 3

CLEANUP_DELETE = 1
CLEANUP_COMPACT = 2

COMPRESSION_NONE = 0
COMPRESSION_ZLIB = 1

TIMESTAMP_CREATE_TIME = 0
TIMESTAMP_LOG_APPEND_TIME = 1

OPEN_MUST_EXIST = 1
READER_DURABLE = 1

_ERROR_NAMES = {
    OK: "CANO_OK", EINVAL: "CANO_EINVAL", ENOMEM: "CANO_ENOMEM",
    EIO: "CANO_EIO", ENOSPC: "CANO_ENOSPC", ELOCKED: "CANO_ELOCKED",
    ENOTFOUND: "CANO_ENOTFOUND", EEXIST: "CANO_EEXIST",
    ECORRUPT: "CANO_ECORRUPT", EOFFSET: "CANO_EOFFSET",
    ETOOBIG: "CANO_ETOOBIG", ETIMEDOUT: "CANO_ETIMEDOUT",
    ECLOSED: "CANO_ECLOSED", EFATAL: "CANO_EFATAL",
    ESEQUENCE: "CANO_ESEQUENCE",
}

_SYNC_MODES = {"default": SYNC_DEFAULT, "none": SYNC_NONE,
               "interval": SYNC_INTERVAL, "always": SYNC_ALWAYS}
_COMPRESSIONS = {"none": COMPRESSION_NONE, "zlib": COMPRESSION_ZLIB}
_TIMESTAMP_TYPES = {"create_time": TIMESTAMP_CREATE_TIME,
                    "log_append_time": TIMESTAMP_LOG_APPEND_TIME}
_CLEANUP_POLICIES = {"delete": CLEANUP_DELETE, "compact": CLEANUP_COMPACT}

_INT_MAX = 2**31 - 1

# How long one wait inside Reader.next() lasts at most before the binding
# looks whether the reader or the store was closed meanwhile (see Reader).
_WAIT_SLICE_MS = 100

# ---------------------------------------------------------------------------
# Errors


class Error(Exception):
    """A failure reported by libcano.

    .code is the negative CANO_E* number, .name its symbol ("CANO_ENOTFOUND"),
    .detail the library's per-thread detail (cano_last_errmsg), possibly "".
    """

    def __init__(self, code, detail=""):
        self.code = int(code)
        self.name = _ERROR_NAMES.get(self.code, "CANO_E(%d)" % self.code)
        self.detail = detail or ""
        text = "%s: %s" % (self.name, strerror(self.code))
        if self.detail:
            text += " (%s)" % self.detail
        super().__init__(text)

    def __reduce__(self):
        return (_make_error, (self.code, self.detail))


class InvalidArgument(Error, ValueError):
    """CANO_EINVAL: a bad argument (also a ValueError)."""


class OutOfMemory(Error):
    """CANO_ENOMEM: an allocation failed."""


class IOFailure(Error):
    """CANO_EIO: the operating system refused an operation."""


class NoSpace(Error):
    """CANO_ENOSPC: the disk or a quota is full."""


class Locked(Error):
    """CANO_ELOCKED: the store is open elsewhere."""


class NotFound(Error):
    """CANO_ENOTFOUND: no such topic, store or committed offset."""


class Exists(Error):
    """CANO_EEXIST: the topic already exists."""


class Corrupt(Error):
    """CANO_ECORRUPT: a checksum or framing check failed on disk."""


class OffsetOutOfRange(Error):
    """CANO_EOFFSET: an offset below the log start or past the end."""


class TooBig(Error):
    """CANO_ETOOBIG: a record or batch larger than the topic allows."""


class TimedOut(Error):
    """CANO_ETIMEDOUT (Reader.next() returns None instead of raising it)."""


class Closed(Error):
    """CANO_ECLOSED: the store or the reader was closed."""


class Fatal(Error):
    """CANO_EFATAL: an fsync failed; the store refuses writes until reopened."""


class SequenceError(Error):
    """CANO_ESEQUENCE: an idempotent append's sequence is out of order."""


_ERROR_CLASSES = {
    EINVAL: InvalidArgument, ENOMEM: OutOfMemory, EIO: IOFailure,
    ENOSPC: NoSpace, ELOCKED: Locked, ENOTFOUND: NotFound, EEXIST: Exists,
    ECORRUPT: Corrupt, EOFFSET: OffsetOutOfRange, ETOOBIG: TooBig,
    ETIMEDOUT: TimedOut, ECLOSED: Closed, EFATAL: Fatal,
    ESEQUENCE: SequenceError,
}


def _make_error(code, detail=""):
    return _ERROR_CLASSES.get(code, Error)(code, detail)


# ---------------------------------------------------------------------------
# The C structures, mirrored field by field from cano.h.

_c_void_p = ctypes.c_void_p
_c_size_t = ctypes.c_size_t


class _Options(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("sync_mode", ctypes.c_int32),
        ("sync_interval_ms", ctypes.c_int32),
        ("max_open_files", ctypes.c_int32),
        ("file_mode", ctypes.c_uint32),
        ("dir_mode", ctypes.c_uint32),
        ("reserved0", ctypes.c_int32),
        ("maintenance_interval_ms", ctypes.c_int32),
        ("reserved1", ctypes.c_int32),
        ("cleaner_map_bytes", ctypes.c_int64),
    ]


class _TopicConfig(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("partitions", ctypes.c_int32),
        ("segment_bytes", ctypes.c_int64),
        ("segment_ms", ctypes.c_int64),
        ("index_interval_bytes", ctypes.c_int64),
        ("max_record_bytes", ctypes.c_int64),
        ("max_batch_bytes", ctypes.c_int64),
        ("compression", ctypes.c_int32),
        ("compression_level", ctypes.c_int32),
        ("timestamp_type", ctypes.c_int32),
        ("sync_mode", ctypes.c_int32),
        ("cleanup_policy", ctypes.c_uint32),
        ("reserved0", ctypes.c_int32),
        ("retention_ms", ctypes.c_int64),
        ("retention_bytes", ctypes.c_int64),
        ("delete_retention_ms", ctypes.c_int64),
        ("min_compaction_lag_ms", ctypes.c_int64),
        ("max_compaction_lag_ms", ctypes.c_int64),
        ("min_cleanable_dirty_ratio", ctypes.c_double),
        ("retention_groups", ctypes.c_char_p),
        ("retention_groups_max_bytes", ctypes.c_int64),
    ]


class _Header(ctypes.Structure):
    _fields_ = [
        ("name", _c_void_p), ("name_len", _c_size_t),
        ("value", _c_void_p), ("value_len", _c_size_t),
    ]


class _Record(ctypes.Structure):
    _fields_ = [
        ("key", _c_void_p), ("key_len", _c_size_t),
        ("value", _c_void_p), ("value_len", _c_size_t),
        ("headers", ctypes.POINTER(_Header)), ("header_count", _c_size_t),
        ("timestamp", ctypes.c_int64),
        ("offset", ctypes.c_int64),
        ("partition", ctypes.c_int32),
    ]


class _PartitionInfo(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("partition", ctypes.c_int32),
        ("start_offset", ctypes.c_int64),
        ("end_offset", ctypes.c_int64),
        ("segments", ctypes.c_int64),
        ("bytes", ctypes.c_int64),
        ("durable_offset", ctypes.c_int64),
        ("max_timestamp", ctypes.c_int64),
        ("dirty_ratio", ctypes.c_double),
        ("cleaned_offset", ctypes.c_int64),
    ]


class _RecoveryInfo(ctypes.Structure):
    _fields_ = [
        ("topic", ctypes.c_char_p),
        ("partition", ctypes.c_int32),
        ("indexes_rebuilt", ctypes.c_int32),
        ("bytes_scanned", ctypes.c_int64),
        ("bytes_cut", ctypes.c_int64),
        ("end_offset", ctypes.c_int64),
        ("files_set_aside", ctypes.c_int32),
        ("half_created", ctypes.c_int32),
        ("elapsed_us", ctypes.c_int64),
    ]


class _GroupInfo(ctypes.Structure):
    _fields_ = [
        ("group", ctypes.c_char_p),
        ("topic", ctypes.c_char_p),
        ("partition", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("committed", ctypes.c_int64),
        ("end_offset", ctypes.c_int64),
        ("lag", ctypes.c_int64),
    ]


_RECORD_FN = ctypes.CFUNCTYPE(ctypes.c_int, _c_void_p, ctypes.POINTER(_Record))
_TOPIC_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, _c_void_p)
_GROUP_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_GroupInfo),
                             _c_void_p)
_RECOVERY_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_RecoveryInfo),
                                _c_void_p)

# ---------------------------------------------------------------------------
# Loading the library and declaring every public function.


def _find_library():
    env = os.environ.get("CANO_LIB")
    if env:
        return [env]
    names = []
    found = ctypes.util.find_library("cano")
    if found:
        names.append(found)
    names.append("libcano.so.0")
    here = os.path.dirname(os.path.abspath(__file__))
    names.append(os.path.join(here, os.pardir, os.pardir, "libcano.so.0"))
    return names


def _load():
    errors = []
    for name in _find_library():
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append("%s: %s" % (name, e))
    raise OSError("cano: cannot load libcano (set CANO_LIB to its full "
                  "path): " + "; ".join(errors))


_lib = _load()

_P = ctypes.POINTER
_i32, _i64, _u32 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32
_int, _str = ctypes.c_int, ctypes.c_char_p

_PROTOTYPES = {
    # name: (restype, argtypes)
    "cano_version": (_str, []),
    "cano_version_number": (_i32, []),
    "cano_strerror": (_str, [_int]),
    "cano_last_errmsg": (_str, []),
    "cano_options_init": (_int, [_P(_Options), _c_size_t]),
    "cano_topic_config_init": (_int, [_P(_TopicConfig), _c_size_t]),
    "cano_open": (_int, [_str, _P(_Options), _P(_c_void_p)]),
    "cano_close": (_int, [_c_void_p]),
    "cano_sync": (_int, [_c_void_p]),
    "cano_recovery_report": (_int, [_c_void_p, _RECOVERY_FN, _c_void_p]),
    "cano_topic_create": (_int, [_c_void_p, _str, _P(_TopicConfig)]),
    "cano_topic_open": (_int, [_c_void_p, _str, _P(_c_void_p)]),
    "cano_topic_delete": (_int, [_c_void_p, _str]),
    "cano_topic_list": (_int, [_c_void_p, _TOPIC_FN, _c_void_p]),
    "cano_topic_config_get": (_int, [_c_void_p, _P(_TopicConfig)]),
    "cano_topic_name": (_str, [_c_void_p]),
    "cano_topic_partitions": (_i32, [_c_void_p]),
    "cano_partition_for_key": (_i32, [_c_void_p, _c_void_p, _c_size_t]),
    "cano_append": (_int, [_c_void_p, _i32, _P(_Record), _P(_i32),
                           _P(_i64)]),
    "cano_append_batch": (_int, [_c_void_p, _i32, _P(_Record), _c_size_t,
                                 _P(_i64)]),
    "cano_append_idempotent": (_int, [_c_void_p, _i32, _i64, _i32,
                                      _P(_Record), _c_size_t, _P(_i64)]),
    "cano_read": (_int, [_c_void_p, _i32, _i64, _c_size_t, _RECORD_FN,
                         _c_void_p]),
    "cano_reader_open": (_int, [_c_void_p, _i32, _i64, _P(_c_void_p)]),
    "cano_reader_next": (_int, [_c_void_p, _P(_Record), _int]),
    "cano_reader_seek": (_int, [_c_void_p, _i64]),
    "cano_reader_set_flags": (_int, [_c_void_p, _u32]),
    "cano_reader_position": (_i64, [_c_void_p]),
    "cano_reader_close": (None, [_c_void_p]),
    "cano_offset_for_time": (_int, [_c_void_p, _i32, _i64, _P(_i64)]),
    "cano_partition_stat": (_int, [_c_void_p, _i32, _P(_PartitionInfo)]),
    "cano_delete_records": (_int, [_c_void_p, _i32, _i64]),
    "cano_maintain": (_int, [_c_void_p]),
    "cano_compact": (_int, [_c_void_p, _i32]),
    "cano_commit": (_int, [_c_void_p, _str, _str, _i32, _i64]),
    "cano_committed": (_int, [_c_void_p, _str, _str, _i32, _P(_i64)]),
    "cano_reader_open_group": (_int, [_c_void_p, _i32, _str,
                                      _P(_c_void_p)]),
    "cano_group_list": (_int, [_c_void_p, _GROUP_FN, _c_void_p]),
}

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    _fn = getattr(_lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes
del _name, _restype, _argtypes, _fn

if _lib.cano_version_number() // 1000000 != 0:
    raise ImportError("cano: this binding is for libcano 0.x, found %s"
                      % _lib.cano_version().decode())


def version() -> str:
    """The version of the loaded library, "MAJOR.MINOR.PATCH"."""
    return _lib.cano_version().decode("ascii")


def version_number() -> int:
    """The loaded library's MAJOR * 1000000 + MINOR * 1000 + PATCH."""
    return int(_lib.cano_version_number())


def strerror(code: int) -> str:
    """The library's description of an error code."""
    return _lib.cano_strerror(int(code)).decode("utf-8", "replace")


def _fail(rc):
    """Raises the exception for a negative return code.  Must be called on
    the thread of the failed call, before any other call into the library."""
    detail = _lib.cano_last_errmsg()
    raise _make_error(rc, detail.decode("utf-8", "replace") if detail else "")


def _check(rc):
    if rc < 0:
        _fail(rc)
    return rc


# ---------------------------------------------------------------------------
# Conversions


def _to_bytes(obj, what):
    """bytes for a key, value or header part given as bytes-like or str."""
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, str):
        return obj.encode("utf-8")
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    raise TypeError("%s must be bytes, bytearray, memoryview or str, not %s"
                    % (what, type(obj).__name__))


def _name_bytes(name, what="name"):
    """A NUL-terminated name (topic, group) for the C API."""
    if isinstance(name, Topic):
        name = name.name
    if isinstance(name, str):
        b = name.encode("utf-8", "surrogateescape")
    else:
        b = _to_bytes(name, what)
    if b"\0" in b:
        raise InvalidArgument(EINVAL, "%s contains a NUL byte" % what)
    return b


def _name_str(raw):
    return raw.decode("utf-8", "surrogateescape")


def _address(b, keep):
    """The address of the bytes object b's data (non-NULL even when empty);
    b is appended to keep so that it lives as long as the call needs it."""
    keep.append(b)
    return ctypes.cast(ctypes.c_char_p(b), _c_void_p).value


def _timestamp_ms(ts):
    if ts is None:
        return 0
    if hasattr(ts, "timestamp") and callable(ts.timestamp):  # datetime
        return int(round(ts.timestamp() * 1000))
    if not isinstance(ts, int):
        raise TypeError("timestamp must be an int (ms since the epoch) or a "
                        "datetime, not %s" % type(ts).__name__)
    return ts


def _normalize_headers(headers):
    if headers is None:
        return ()
    if isinstance(headers, dict):
        headers = headers.items()
    out = []
    for pair in headers:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise TypeError("headers must be (name, value) pairs") from None
        out.append((_to_bytes(name, "header name"),
                     None if value is None else _to_bytes(value,
                                                          "header value")))
    return out


def _fill_record(rec, key, value, headers, timestamp, keep):
    """Fills the C record rec; keep collects what must outlive the call."""
    if key is None:
        rec.key, rec.key_len = None, 0
    else:
        kb = _to_bytes(key, "key")
        rec.key, rec.key_len = _address(kb, keep), len(kb)
    if value is None:
        rec.value, rec.value_len = None, 0
    else:
        vb = _to_bytes(value, "value")
        rec.value, rec.value_len = _address(vb, keep), len(vb)
    hs = _normalize_headers(headers)
    if hs:
        arr = (_Header * len(hs))()
        for i, (hn, hv) in enumerate(hs):
            arr[i].name, arr[i].name_len = _address(hn, keep), len(hn)
            if hv is None:
                arr[i].value, arr[i].value_len = None, 0
            else:
                arr[i].value, arr[i].value_len = _address(hv, keep), len(hv)
        keep.append(arr)
        rec.headers = ctypes.cast(arr, ctypes.POINTER(_Header))
        rec.header_count = len(hs)
    else:
        rec.headers, rec.header_count = None, 0
    rec.timestamp = _timestamp_ms(timestamp)


def _unpack_record_spec(item):
    """(key, value, headers, timestamp) from one item of a batch."""
    if item is None or isinstance(item, (bytes, bytearray, memoryview, str)):
        return None, item, None, 0
    if isinstance(item, dict):
        unknown = set(item) - {"key", "value", "headers", "timestamp"}
        if unknown:
            raise TypeError("unknown record fields: %s"
                            % ", ".join(sorted(unknown)))
        return (item.get("key"), item.get("value"), item.get("headers"),
                item.get("timestamp", 0))
    if isinstance(item, (tuple, list)):
        if not 2 <= len(item) <= 4:
            raise TypeError("a record tuple is (key, value[, headers"
                            "[, timestamp]])")
        item = tuple(item) + (None, 0)[len(item) - 2:]
        return item[0], item[1], item[2], item[3]
    if hasattr(item, "value"):                 # a Record, or alike
        return (getattr(item, "key", None), item.value,
                getattr(item, "headers", None), getattr(item, "timestamp", 0))
    raise TypeError("cannot append a %s as a record" % type(item).__name__)


def _build_records(records, keep):
    specs = [_unpack_record_spec(r) for r in records]
    if not specs:
        raise InvalidArgument(EINVAL, "a batch needs at least one record")
    arr = (_Record * len(specs))()
    for i, (k, v, h, ts) in enumerate(specs):
        _fill_record(arr[i], k, v, h, ts, keep)
    keep.append(arr)
    return arr, len(specs)


def _copy_record(r):
    """A Record with copies of everything the C record points to."""
    key = ctypes.string_at(r.key, r.key_len) if r.key else None
    value = ctypes.string_at(r.value, r.value_len) if r.value else None
    headers = []
    for i in range(r.header_count):
        h = r.headers[i]
        headers.append((ctypes.string_at(h.name, h.name_len) if h.name
                        else b"",
                        ctypes.string_at(h.value, h.value_len) if h.value
                        else None))
    return Record(key, value, tuple(headers), r.timestamp, r.offset,
                  r.partition)


def _enum(value, table, what):
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise InvalidArgument(
                EINVAL, "unknown %s %r (one of %s)"
                % (what, value, ", ".join(sorted(table)))) from None
    if isinstance(value, int):
        return value
    raise TypeError("%s must be a str or an int" % what)


def _enum_name(value, table):
    for k, v in table.items():
        if v == value:
            return k
    return value


def _cleanup_bits(value):
    if isinstance(value, str):
        value = [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, (list, tuple, set, frozenset)):
        bits = 0
        for p in value:
            bits |= _enum(p, _CLEANUP_POLICIES, "cleanup policy")
        return bits
    return _enum(value, _CLEANUP_POLICIES, "cleanup policy")


def _cleanup_name(bits):
    names = [n for n, b in sorted(_CLEANUP_POLICIES.items(),
                                  key=lambda kv: kv[1]) if bits & b]
    if bits & ~(CLEANUP_DELETE | CLEANUP_COMPACT) or not names:
        return bits
    return ",".join(names)


# ---------------------------------------------------------------------------
# Result types


@dataclasses.dataclass(frozen=True)
class Record:
    """One record read back.  key is None when the record has no key; value
    is None for a tombstone; headers is a tuple of (name, value) pairs of
    bytes (value None when the header has none)."""
    key: Optional[bytes]
    value: Optional[bytes]
    headers: Tuple[Tuple[bytes, Optional[bytes]], ...] = ()
    timestamp: int = 0
    offset: int = -1
    partition: int = -1


Appended = namedtuple("Appended", "partition offset")
Appended.__doc__ = "Where Topic.append() put a record."


@dataclasses.dataclass(frozen=True)
class TopicConfig:
    """A topic's configuration with the library's defaults resolved.  The
    field names are Store.create_topic()'s keyword arguments, so
    store.create_topic(name, **dataclasses.asdict(cfg)) copies a topic.
    Enumerations are given by name: sync "default"/"none"/"interval"/
    "always", compression "none"/"zlib", timestamp_type "create_time"/
    "log_append_time", cleanup_policy "delete", "compact" or
    "delete,compact"; retention_groups is None when off."""
    partitions: int
    segment_bytes: int
    segment_ms: int
    index_interval_bytes: int
    max_record_bytes: int
    max_batch_bytes: int
    compression: str
    compression_level: int
    timestamp_type: str
    sync: str
    cleanup_policy: str
    retention_ms: int
    retention_bytes: int
    delete_retention_ms: int
    min_compaction_lag_ms: int
    max_compaction_lag_ms: int
    min_cleanable_dirty_ratio: float
    retention_groups: Optional[str]
    retention_groups_max_bytes: int


_CONFIG_KEYS = frozenset(f.name for f in dataclasses.fields(TopicConfig))


@dataclasses.dataclass(frozen=True)
class PartitionInfo:
    """The state of one partition (cano_partition_stat)."""
    partition: int
    start_offset: int
    end_offset: int
    segments: int
    bytes: int
    durable_offset: int
    max_timestamp: int
    dirty_ratio: float
    cleaned_offset: int


@dataclasses.dataclass(frozen=True)
class GroupInfo:
    """One committed consumer-group position and its lag."""
    group: str
    topic: str
    partition: int
    committed: int
    end_offset: int
    lag: int


@dataclasses.dataclass(frozen=True)
class RecoveryInfo:
    """What crash recovery did to one partition when the store was opened."""
    topic: str
    partition: int
    indexes_rebuilt: int
    bytes_scanned: int
    bytes_cut: int
    end_offset: int
    files_set_aside: int
    half_created: int
    elapsed_us: int


def _config_struct(partitions, config):
    cfg = _TopicConfig()
    _check(_lib.cano_topic_config_init(ctypes.byref(cfg),
                                       ctypes.sizeof(cfg)))
    config = dict(config)
    if "sync_mode" in config:                    # the C name, as an alias
        if "sync" in config:
            raise TypeError("give sync or sync_mode, not both")
        config["sync"] = config.pop("sync_mode")
    unknown = set(config) - _CONFIG_KEYS
    if unknown:
        raise TypeError("unknown topic config: %s" % ", ".join(sorted(unknown)))
    if partitions is not None:
        config["partitions"] = partitions
    for key, value in config.items():
        if value is None:
            continue                             # keep the default
        if key == "sync":
            cfg.sync_mode = _enum(value, _SYNC_MODES, "sync mode")
        elif key == "compression":
            cfg.compression = _enum(value, _COMPRESSIONS, "compression")
        elif key == "timestamp_type":
            cfg.timestamp_type = _enum(value, _TIMESTAMP_TYPES,
                                       "timestamp type")
        elif key == "cleanup_policy":
            cfg.cleanup_policy = _cleanup_bits(value)
        elif key == "retention_groups":
            if not isinstance(value, (str, bytes)):
                value = ",".join(_name_str(_name_bytes(g, "group"))
                                 for g in value)
            cfg.retention_groups = _name_bytes(value, "retention_groups")
        elif key == "min_cleanable_dirty_ratio":
            cfg.min_cleanable_dirty_ratio = float(value)
        else:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError("%s must be an int" % key)
            setattr(cfg, key, value)
    return cfg


def _config_from_struct(c):
    groups = c.retention_groups
    return TopicConfig(
        partitions=c.partitions, segment_bytes=c.segment_bytes,
        segment_ms=c.segment_ms,
        index_interval_bytes=c.index_interval_bytes,
        max_record_bytes=c.max_record_bytes,
        max_batch_bytes=c.max_batch_bytes,
        compression=_enum_name(c.compression, _COMPRESSIONS),
        compression_level=c.compression_level,
        timestamp_type=_enum_name(c.timestamp_type, _TIMESTAMP_TYPES),
        sync=_enum_name(c.sync_mode, _SYNC_MODES),
        cleanup_policy=_cleanup_name(c.cleanup_policy),
        retention_ms=c.retention_ms, retention_bytes=c.retention_bytes,
        delete_retention_ms=c.delete_retention_ms,
        min_compaction_lag_ms=c.min_compaction_lag_ms,
        max_compaction_lag_ms=c.max_compaction_lag_ms,
        min_cleanable_dirty_ratio=c.min_cleanable_dirty_ratio,
        retention_groups=_name_str(groups) if groups else None,
        retention_groups_max_bytes=c.retention_groups_max_bytes)


class _Callback:
    """Runs a Python function as a C callback: an exception stops the C loop
    (nonzero return) and is re-raised by finish() after the call."""

    def __init__(self, cfunctype, fn):
        self.error = None
        self.fn = fn

        def trampoline(*args):
            try:
                return 1 if fn(*args) else 0
            except BaseException as e:           # noqa: B902 - re-raised
                self.error = e
                return 1
        self.c = cfunctype(trampoline)

    def finish(self, rc):
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        return _check(rc)


# ---------------------------------------------------------------------------
# Store


class Store:
    """An open store (one directory), as a context manager::

        with cano.Store("path/to/store", sync="always") as store:
            ...

    path: the store's directory; its parent must exist.  create=False
    raises cano.NotFound instead of creating a missing store.  sync is the
    store's sync mode ("none", "interval" (the default) or "always", or a
    SYNC_* number); the other keywords are the fields of cano_options
    (None or 0 keeps the library's default).  Opening a store that is open
    already (here or in another process) raises cano.Locked.
    """

    def __init__(self, path, sync=None, create=True, sync_interval_ms=None,
                 max_open_files=None, file_mode=None, dir_mode=None,
                 maintenance_interval_ms=None, cleaner_map_bytes=None):
        self._handle = None
        self._cv = threading.Condition(threading.Lock())
        self._active = 0
        self._closing = False
        self._readers = weakref.WeakSet()
        self.path = os.fspath(path)
        opts = _Options()
        _check(_lib.cano_options_init(ctypes.byref(opts), ctypes.sizeof(opts)))
        if not create:
            opts.flags |= OPEN_MUST_EXIST
        if sync is not None:
            opts.sync_mode = _enum(sync, _SYNC_MODES, "sync mode")
        for field, value in (("sync_interval_ms", sync_interval_ms),
                             ("max_open_files", max_open_files),
                             ("file_mode", file_mode),
                             ("dir_mode", dir_mode),
                             ("maintenance_interval_ms",
                              maintenance_interval_ms),
                             ("cleaner_map_bytes", cleaner_map_bytes)):
            if value is not None:
                setattr(opts, field, value)
        handle = _c_void_p()
        rc = _lib.cano_open(os.fsencode(self.path), ctypes.byref(opts),
                            ctypes.byref(handle))
        if rc < 0:
            _fail(rc)
        self._handle = handle.value

    # -- lifetime -----------------------------------------------------------

    def _enter(self):
        """Counts a call in progress; raises Closed once close() began."""
        with self._cv:
            if self._closing or self._handle is None:
                raise Closed(ECLOSED, "store is closed")
            self._active += 1
            return self._handle

    def _leave(self):
        with self._cv:
            self._active -= 1
            if self._active == 0:
                self._cv.notify_all()

    def _call(self, fn, *args):
        """fn(handle, *args) with the store kept open meanwhile; raises on a
        negative result, else returns it."""
        h = self._enter()
        try:
            return _check(fn(h, *args))
        finally:
            self._leave()

    @property
    def closed(self) -> bool:
        """True once close() has been called."""
        return self._handle is None or self._closing

    def close(self):
        """Closes every reader still open, syncs everything and closes the
        store.  Waits for calls in progress in other threads; readers waiting
        in Reader.next() raise cano.Closed.  A second close does nothing."""
        with self._cv:
            if self._closing or self._handle is None:
                return
            self._closing = True
            while self._active:
                self._cv.wait()
            handle = self._handle
        for reader in list(self._readers):
            reader._release()
        with self._cv:
            self._handle = None
        rc = _lib.cano_close(handle)
        if rc < 0:
            _fail(rc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if getattr(self, "_handle", None) is not None:
                self.close()
        except Exception:
            pass

    def __repr__(self):
        return "<cano.Store %r%s>" % (self.path,
                                      " closed" if self.closed else "")

    # -- store-wide calls ---------------------------------------------------

    def sync(self):
        """Makes everything appended so far durable."""
        self._call(_lib.cano_sync)

    def maintain(self):
        """Runs the retention and compaction that are due now."""
        self._call(_lib.cano_maintain)

    def recovery_report(self):
        """A list of RecoveryInfo, one per partition that crash recovery had
        to work on when the store was opened (empty after a clean close)."""
        out = []

        def collect(info, _payload):
            i = info.contents
            out.append(RecoveryInfo(
                _name_str(i.topic), i.partition, i.indexes_rebuilt,
                i.bytes_scanned, i.bytes_cut, i.end_offset,
                i.files_set_aside, i.half_created, i.elapsed_us))
        cb = _Callback(_RECOVERY_FN, collect)
        h = self._enter()
        try:
            cb.finish(_lib.cano_recovery_report(h, cb.c, None))
        finally:
            self._leave()
        return out

    # -- topics -------------------------------------------------------------

    def create_topic(self, name, partitions=None, exist_ok=False, **config):
        """Creates a topic and returns it as a Topic.

        partitions defaults to 1.  config takes cano_topic_config's fields by
        their Kafka names (see TopicConfig): segment_bytes, segment_ms,
        retention_ms, retention_bytes, cleanup_policy="compact", compression=
        "zlib", sync="always", retention_groups=["billing"], ...; None keeps a
        default.  An existing topic raises cano.Exists unless exist_ok (then
        the existing topic is returned, whatever its config).
        """
        cname = _name_bytes(name, "topic name")
        cfg = _config_struct(partitions, config)
        h = self._enter()
        try:
            rc = _lib.cano_topic_create(h, cname, ctypes.byref(cfg))
            if rc < 0 and not (rc == EEXIST and exist_ok):
                _fail(rc)
        finally:
            self._leave()
        return self.topic(name)

    def topic(self, name) -> "Topic":
        """The existing topic name (cano.NotFound when there is none)."""
        cname = _name_bytes(name, "topic name")
        out = _c_void_p()
        self._call(_lib.cano_topic_open, cname, ctypes.byref(out))
        return Topic(self, out.value)

    def __getitem__(self, name):
        return self.topic(name)

    def __contains__(self, name):
        try:
            self.topic(name)
            return True
        except (NotFound, InvalidArgument):
            return False

    def topics(self):
        """The names of the topics, sorted."""
        names = []
        cb = _Callback(_TOPIC_FN, lambda n, _p: names.append(_name_str(n)))
        h = self._enter()
        try:
            cb.finish(_lib.cano_topic_list(h, cb.c, None))
        finally:
            self._leave()
        return names

    def delete_topic(self, name):
        """Deletes a topic and all its data.  Topic objects for it stay
        usable objects, but their calls raise cano.NotFound."""
        self._call(_lib.cano_topic_delete, _name_bytes(name, "topic name"))

    # -- consumer groups ----------------------------------------------------

    def commit(self, group, topic, partition, offset):
        """Durably records that group's next wanted record of topic/partition
        is offset.  topic is a name or a Topic."""
        self._call(_lib.cano_commit, _name_bytes(group, "group"),
                   _name_bytes(topic, "topic name"), partition, offset)

    _NO_DEFAULT = object()

    def committed(self, group, topic, partition, default=_NO_DEFAULT):
        """group's committed offset for topic/partition.  When nothing was
        committed (or there is no such topic) raises cano.NotFound, or
        returns default when one is given."""
        out = ctypes.c_int64()
        h = self._enter()
        try:
            rc = _lib.cano_committed(h, _name_bytes(group, "group"),
                                     _name_bytes(topic, "topic name"),
                                     partition, ctypes.byref(out))
            if rc == ENOTFOUND and default is not self._NO_DEFAULT:
                return default
            _check(rc)
        finally:
            self._leave()
        return out.value

    def groups(self):
        """A list of GroupInfo: every committed (group, topic, partition) of
        existing topics, with its lag, sorted."""
        out = []

        def collect(info, _payload):
            i = info.contents
            out.append(GroupInfo(_name_str(i.group), _name_str(i.topic),
                                 i.partition, i.committed, i.end_offset,
                                 i.lag))
        cb = _Callback(_GROUP_FN, collect)
        h = self._enter()
        try:
            cb.finish(_lib.cano_group_list(h, cb.c, None))
        finally:
            self._leave()
        return out


# ---------------------------------------------------------------------------
# Topic


class Topic:
    """A topic of an open store; get one from Store.topic() or
    Store.create_topic().  Valid until the store is closed."""

    def __init__(self, store, handle):
        self.store = store
        self._handle = handle
        self.name = _lib.cano_topic_name(handle).decode("utf-8",
                                                        "surrogateescape")

    def __repr__(self):
        return "<cano.Topic %r>" % self.name

    def __eq__(self, other):
        return (isinstance(other, Topic) and other.store is self.store
                and other._handle == self._handle)

    def __hash__(self):
        return hash((id(self.store), self._handle))

    def _call(self, fn, *args):
        self.store._enter()
        try:
            return _check(fn(self._handle, *args))
        finally:
            self.store._leave()

    # -- description --------------------------------------------------------

    @property
    def partitions(self) -> int:
        """The number of partitions."""
        return self._call(_lib.cano_topic_partitions)

    @property
    def config(self) -> TopicConfig:
        """The topic's configuration, defaults resolved (a TopicConfig)."""
        cfg = _TopicConfig()
        cfg.size = ctypes.sizeof(cfg)
        self._call(_lib.cano_topic_config_get, ctypes.byref(cfg))
        return _config_from_struct(cfg)

    def stat(self, partition=0) -> PartitionInfo:
        """The state of a partition: start/end/durable offsets, segments,
        bytes, max timestamp, compaction progress (a PartitionInfo)."""
        info = _PartitionInfo()
        info.size = ctypes.sizeof(info)
        self._call(_lib.cano_partition_stat, partition, ctypes.byref(info))
        return PartitionInfo(info.partition, info.start_offset,
                             info.end_offset, info.segments, info.bytes,
                             info.durable_offset, info.max_timestamp,
                             info.dirty_ratio, info.cleaned_offset)

    def partition_for_key(self, key) -> int:
        """The partition that PARTITION_AUTO sends records with this key to."""
        kb = _to_bytes(key, "key")
        keep = []
        return self._call(_lib.cano_partition_for_key, _address(kb, keep),
                          len(kb))

    # -- appending ----------------------------------------------------------

    def append(self, value, key=None, headers=None, timestamp=0,
               partition=PARTITION_AUTO) -> Appended:
        """Appends one record; returns Appended(partition, offset).

        value: bytes-like or str, or None for a tombstone.  key: bytes-like,
        str or None (no key).  headers: (name, value) pairs or a dict.
        timestamp: ms since the epoch (or a datetime); 0 means now.
        partition: a number, or PARTITION_AUTO (the key's partition, or
        round-robin without a key)."""
        keep = []
        rec = _Record()
        _fill_record(rec, key, value, headers, timestamp, keep)
        part = ctypes.c_int32(-1)
        off = ctypes.c_int64(-1)
        self._call(_lib.cano_append, partition, ctypes.byref(rec),
                   ctypes.byref(part), ctypes.byref(off))
        return Appended(part.value, off.value)

    def append_batch(self, records, partition=PARTITION_AUTO) -> int:
        """Appends records atomically to one partition (all become visible
        together, at consecutive offsets); returns the first offset.

        Each record is a value (bytes/str/None), a (key, value[, headers[,
        timestamp]]) tuple, a dict with those keys, or a Record.  With
        PARTITION_AUTO the batch goes to the first record's key partition
        (round-robin without a key: pass a partition to know where)."""
        keep = []
        arr, n = _build_records(records, keep)
        off = ctypes.c_int64(-1)
        self._call(_lib.cano_append_batch, partition, arr, n,
                   ctypes.byref(off))
        return off.value

    def append_idempotent(self, partition, producer_id, sequence,
                          records) -> int:
        """Appends records atomically as batch `sequence` of producer
        `producer_id` to an explicit partition; returns the first offset.
        Retrying one of the producer's last five batches (same sequence and
        count) writes nothing and returns the original offset; a gap in the
        sequence raises cano.SequenceError.  records as in append_batch()."""
        keep = []
        arr, n = _build_records(records, keep)
        off = ctypes.c_int64(-1)
        self._call(_lib.cano_append_idempotent, partition, producer_id,
                   sequence, arr, n, ctypes.byref(off))
        return off.value

    # -- reading ------------------------------------------------------------

    def read(self, partition=0, offset=OFFSET_EARLIEST, max_records=None):
        """A list of the Records of partition from offset on (at most
        max_records; None: up to the end).  offset may be OFFSET_EARLIEST or
        OFFSET_LATEST.  Offsets below the log start or past the end raise
        cano.OffsetOutOfRange.  Use reader() to stream large partitions."""
        if offset in (OFFSET_EARLIEST, OFFSET_LATEST):
            info = self.stat(partition)
            offset = (info.start_offset if offset == OFFSET_EARLIEST
                      else info.end_offset)
        if max_records is None:
            max_records = _INT_MAX
        if max_records < 0:
            raise InvalidArgument(EINVAL, "max_records must be >= 0")
        out = []
        cb = _Callback(_RECORD_FN,
                       lambda _ctx, rec: out.append(_copy_record(rec.contents)))
        self.store._enter()
        try:
            cb.finish(_lib.cano_read(self._handle, partition, offset,
                                     max_records, cb.c, None))
        finally:
            self.store._leave()
        return out

    def reader(self, partition=0, offset=None, group=None, durable=False):
        """Opens a Reader (a cursor) on partition.

        offset: a number, OFFSET_EARLIEST (the default) or OFFSET_LATEST.
        group: start at this consumer group's committed offset instead (or
        at the log start when it has none); Reader.commit() then commits for
        it.  durable: return only records on stable storage."""
        if group is not None and offset is not None:
            raise TypeError("give an offset or a group, not both")
        out = _c_void_p()
        if group is not None:
            self._call(_lib.cano_reader_open_group, partition,
                       _name_bytes(group, "group"), ctypes.byref(out))
        else:
            self._call(_lib.cano_reader_open, partition,
                       OFFSET_EARLIEST if offset is None else offset,
                       ctypes.byref(out))
        reader = Reader(self, partition, out.value, group)
        if durable:
            try:
                reader.durable = True
            except BaseException:
                reader.close()
                raise
        return reader

    def offset_for_time(self, partition, timestamp) -> int:
        """The first offset whose timestamp is >= timestamp (ms since the
        epoch, or a datetime), or the end offset when there is none."""
        out = ctypes.c_int64(-1)
        self._call(_lib.cano_offset_for_time, partition,
                   _timestamp_ms(timestamp), ctypes.byref(out))
        return out.value

    # -- retention ----------------------------------------------------------

    def delete_records(self, partition, before_offset):
        """Moves the partition's log start to before_offset, durably."""
        self._call(_lib.cano_delete_records, partition, before_offset)

    def compact(self, partition=0):
        """Compacts a partition of a compacted topic now (the active segment
        is never compacted)."""
        self._call(_lib.cano_compact, partition)


# ---------------------------------------------------------------------------
# Reader


class Reader:
    """A cursor over one partition; get one from Topic.reader().

    Iterating yields the records up to the current end and stops (it never
    waits); next(timeout_ms) waits for a record.  Use as a context manager
    or call close(); closing the store closes it too.  A reader serves one
    thread at a time; close() may be called from another thread to stop a
    waiting next() (which then raises cano.Closed, within about 0.1 s).
    """

    def __init__(self, topic, partition, handle, group=None):
        self.topic = topic
        self.partition = partition
        self.group = group
        self._handle = handle
        self._lock = threading.Lock()     # one call at a time
        self._closing = False
        self._durable = False
        self._rec = _Record()
        topic.store._readers.add(self)

    def __repr__(self):
        return "<cano.Reader %s[%d]%s>" % (
            self.topic.name, self.partition,
            " closed" if self._handle is None else "")

    # -- lifetime -----------------------------------------------------------

    def _release(self):
        """Frees the C reader once no call on it is in progress."""
        self._closing = True
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            _lib.cano_reader_close(handle)

    def close(self):
        """Closes the reader (a second close does nothing)."""
        self._release()

    @property
    def closed(self) -> bool:
        return self._handle is None or self._closing

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            handle = getattr(self, "_handle", None)
            if handle is not None:
                self._handle = None
                _lib.cano_reader_close(handle)
        except Exception:
            pass

    def _begin(self):
        """Enters the store and takes the reader; returns the C handle."""
        if self._handle is None or self._closing:
            raise Closed(ECLOSED, "reader is closed")
        store = self.topic.store
        store._enter()
        if not self._lock.acquire(blocking=False):
            store._leave()
            raise RuntimeError("cano.Reader is in use by another thread")
        if self._handle is None or self._closing:
            self._lock.release()
            store._leave()
            raise Closed(ECLOSED, "reader is closed")
        return self._handle

    def _end(self):
        self._lock.release()
        self.topic.store._leave()

    # -- reading ------------------------------------------------------------

    def next(self, timeout_ms=0):
        """The next Record, or None when none arrived within timeout_ms
        milliseconds (0: do not wait; negative or None: wait as long as it
        takes).  Raises cano.OffsetOutOfRange when retention passed the
        reader's position, cano.Closed when the reader or store is closed."""
        if timeout_ms is None:
            timeout_ms = -1
        deadline = (None if timeout_ms < 0
                    else time.monotonic() + timeout_ms / 1000.0)
        store = self.topic.store
        h = self._begin()
        try:
            rec = self._rec
            while True:
                if deadline is None:
                    wait = _WAIT_SLICE_MS
                else:
                    left = int((deadline - time.monotonic()) * 1000 + 0.999)
                    wait = max(0, min(left, _WAIT_SLICE_MS))
                rc = _lib.cano_reader_next(h, ctypes.byref(rec), wait)
                if rc == OK:
                    return _copy_record(rec)
                if rc != ETIMEDOUT:
                    _fail(rc)
                if self._closing or store._closing:
                    raise Closed(ECLOSED, "reader is closed" if self._closing
                                 else "store is closed")
                if deadline is not None and time.monotonic() >= deadline:
                    return None
        finally:
            self._end()

    def __iter__(self):
        return self

    def __next__(self):
        rec = self.next(0)
        if rec is None:
            raise StopIteration
        return rec

    def seek(self, offset):
        """Moves to offset (or OFFSET_EARLIEST / OFFSET_LATEST)."""
        h = self._begin()
        try:
            _check(_lib.cano_reader_seek(h, offset))
        finally:
            self._end()

    @property
    def position(self) -> int:
        """The offset the next call looks at."""
        h = self._begin()
        try:
            return _check(_lib.cano_reader_position(h))
        finally:
            self._end()

    @property
    def durable(self) -> bool:
        """True: only records already on stable storage are returned."""
        return self._durable

    @durable.setter
    def durable(self, on):
        h = self._begin()
        try:
            _check(_lib.cano_reader_set_flags(
                h, READER_DURABLE if on else 0))
            self._durable = bool(on)
        finally:
            self._end()

    def commit(self, offset=None):
        """Commits offset (default: the reader's position) for the reader's
        group (the group given to Topic.reader())."""
        if self.group is None:
            raise TypeError("this reader was not opened for a group")
        if offset is None:
            offset = self.position
        self.topic.store.commit(self.group, self.topic.name, self.partition,
                                offset)
