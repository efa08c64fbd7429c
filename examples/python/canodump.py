#!/usr/bin/env python3
"""canodump.py - a reference reader of the libcano on-disk format.

Written from cano-format(5) alone, with the Python standard library only:
no libcano, no ctypes.  XXH3-64 (the only hash the format uses) is
implemented below in pure Python from the public xxHash specification
(doc/xxhash_spec.md of the xxHash project); deflate comes from zlib.

It walks a store's topics (in byte order of their names), partitions (in
numeric order) and segments (by base offset), checks every checksum (the
segment headers, every batch, topic.conf), decodes every record, and
prints what it finds in exactly the form of `cano DIR dump --records`
(with --index: `cano DIR dump --records --index`), so the two outputs can
be compared byte for byte.  Exit status: 0, 1 when damage was found or a
file could not be read, 2 on a usage error.

usage: canodump.py [--index] [--no-records] DIR [TOPIC [PARTITION]]
"""

import errno
import os
import struct
import sys
import zlib

# ---------------------------------------------------------------- XXH3-64

M64 = (1 << 64) - 1
P32_1, P32_2, P32_3 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D
P64_1, P64_2, P64_3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
P64_4, P64_5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5

# The default 192-byte secret of XXH3 (kSecret in the specification).
SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
    "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"
    "2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e")
_SK = struct.unpack("<24Q", SECRET)                 # secret words at 8*i
_SK_LAST = struct.unpack_from("<8Q", SECRET, 192 - 64 - 7)
_SK_MERGE = struct.unpack_from("<8Q", SECRET, 11)


def _r64(b, i):
    return struct.unpack_from("<Q", b, i)[0]


def _r32(b, i):
    return struct.unpack_from("<I", b, i)[0]


def _fold(a, b):
    """The 128-bit product of a and b, its halves XOR-ed together."""
    p = a * b
    return (p ^ (p >> 64)) & M64


def _avalanche(h):
    h ^= h >> 37
    h = (h * 0x165667919E3779F9) & M64
    return h ^ (h >> 32)


def _avalanche64(h):
    h ^= h >> 33
    h = (h * P64_2) & M64
    h ^= h >> 29
    h = (h * P64_3) & M64
    return h ^ (h >> 32)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _mix16(data, i, s):
    return _fold(_r64(data, i) ^ _r64(SECRET, s),
                 _r64(data, i + 8) ^ _r64(SECRET, s + 8))


def xxh3_64(data):
    """XXH3_64bits(data) with seed 0 and the default secret."""
    n = len(data)
    if n == 0:
        return _avalanche64(_r64(SECRET, 56) ^ _r64(SECRET, 64))
    if n <= 3:
        c = (data[0] << 16) | (data[n >> 1] << 24) | data[n - 1] | (n << 8)
        return _avalanche64(c ^ (_r32(SECRET, 0) ^ _r32(SECRET, 4)))
    if n <= 8:
        x = (_r32(data, n - 4) + (_r32(data, 0) << 32)) ^ \
            (_r64(SECRET, 8) ^ _r64(SECRET, 16))
        x ^= _rotl(x, 49) ^ _rotl(x, 24)
        x = (x * 0x9FB21C651E98DF25) & M64
        x ^= (x >> 35) + n
        x = (x * 0x9FB21C651E98DF25) & M64
        return x ^ (x >> 28)
    if n <= 16:
        lo = _r64(data, 0) ^ (_r64(SECRET, 24) ^ _r64(SECRET, 32))
        hi = _r64(data, n - 8) ^ (_r64(SECRET, 40) ^ _r64(SECRET, 48))
        swapped = int.from_bytes(lo.to_bytes(8, "little"), "big")
        return _avalanche((n + swapped + hi + _fold(lo, hi)) & M64)
    if n <= 128:
        acc = n * P64_1
        if n > 32:
            if n > 64:
                if n > 96:
                    acc += _mix16(data, 48, 96) + _mix16(data, n - 64, 112)
                acc += _mix16(data, 32, 64) + _mix16(data, n - 48, 80)
            acc += _mix16(data, 16, 32) + _mix16(data, n - 32, 48)
        acc += _mix16(data, 0, 0) + _mix16(data, n - 16, 16)
        return _avalanche(acc & M64)
    if n <= 240:
        acc = n * P64_1
        for i in range(8):
            acc += _mix16(data, 16 * i, 16 * i)
        acc = _avalanche(acc & M64)
        for i in range(8, n // 16):
            acc += _mix16(data, 16 * i, 16 * (i - 8) + 3)
        acc += _mix16(data, n - 16, 136 - 17)
        return _avalanche(acc & M64)
    return _xxh3_long(data, n)


def _xxh3_long(data, n):
    acc = [P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1]
    words = struct.unpack_from("<%dQ" % (n // 8), data, 0)
    nb_blocks = (n - 1) // 1024          # blocks of 16 stripes of 64 bytes

    def stripes(first_word, count):
        for s in range(count):
            w = first_word + 8 * s
            for i in range(8):
                dv = words[w + i]
                dk = dv ^ _SK[s + i]
                acc[i ^ 1] = (acc[i ^ 1] + dv) & M64
                acc[i] = (acc[i] + (dk & 0xFFFFFFFF) * (dk >> 32)) & M64

    for b in range(nb_blocks):
        stripes(b * 128, 16)
        for i in range(8):                  # scramble
            a = acc[i]
            a ^= a >> 47
            a ^= _SK[16 + i]
            acc[i] = (a * P32_1) & M64
    stripes(nb_blocks * 128, ((n - 1) - 1024 * nb_blocks) // 64)
    last = struct.unpack_from("<8Q", data, n - 64)
    for i in range(8):
        dv = last[i]
        dk = dv ^ _SK_LAST[i]
        acc[i ^ 1] = (acc[i ^ 1] + dv) & M64
        acc[i] = (acc[i] + (dk & 0xFFFFFFFF) * (dk >> 32)) & M64
    r = n * P64_1
    for i in range(4):
        r += _fold(acc[2 * i] ^ _SK_MERGE[2 * i],
                   acc[2 * i + 1] ^ _SK_MERGE[2 * i + 1])
    return _avalanche(r & M64)


# ---------------------------------------------------------------- format

SEG_HEADER = 128
SEG_MAGIC = b"CANOSEG1"
BATCH_HEADER = 64
BATCH_MAGIC = 0xC1
BATCH_MAX = 256 << 20
ATTR_CODEC, ATTR_APPEND_TS, ATTR_HORIZON = 0x07, 0x08, 0x10
INT64_MAX = (1 << 63) - 1
CONF_MAX = 8192
STATE_MAX = 64 << 20


class Bad(Exception):
    """A record section that does not decode."""


def s64(u):
    return u - (1 << 64) if u >= 1 << 63 else u


def uvarint(buf, p, end):
    """At most 10 bytes of unsigned LEB128, kept to 64 bits."""
    r = 0
    shift = 0
    while shift < 70 and p < end:
        b = buf[p]
        p += 1
        r = (r | ((b & 0x7F) << shift)) & M64
        if not b & 0x80:
            return r, p
        shift += 7
    raise Bad()


def varint(buf, p, end):
    u, p = uvarint(buf, p, end)
    return s64((u >> 1) ^ (M64 if u & 1 else 0)), p


def optbytes(buf, p, end):
    n, p = varint(buf, p, end)
    if n < -1 or n > end - p:
        raise Bad()
    if n < 0:
        return None, p
    return bytes(buf[p:p + n]), p + n


class Batch:
    pass


def parse_header(h, avail):
    """The framing checks of a batch header (64 bytes, or the whole batch
    when avail covers it): a Batch, 'short' when the batch runs past avail,
    or None when the framing is invalid."""
    b = Batch()
    b.length = _r32(h, 8)
    b.attrs = h[13]
    if (h[12] != BATCH_MAGIC or b.attrs & 0xE0 or
            (b.attrs & ATTR_CODEC) > 1 or b.length < BATCH_HEADER or
            b.length > BATCH_MAX):
        return None
    if b.length > avail:
        return "short"
    (b.base_offset, b.base_ts, b.max_ts, b.producer_id) = \
        struct.unpack_from("<4q", h, 16)
    b.base_seq = struct.unpack_from("<i", h, 48)[0]
    b.last_delta, b.count, b.records_size = struct.unpack_from("<3I", h, 52)
    b.records_at = BATCH_HEADER
    b.horizon = -1
    if b.attrs & ATTR_HORIZON:
        if b.length < BATCH_HEADER + 8:
            return None
        b.horizon = struct.unpack_from("<q", h, BATCH_HEADER)[0]
        b.records_at += 8
    if (b.base_offset < 0 or b.count == 0 or b.last_delta < b.count - 1 or
            b.records_size > BATCH_MAX or
            INT64_MAX - b.base_offset <= b.last_delta):
        return None
    stored = b.length - b.records_at
    if (b.attrs & ATTR_CODEC) == 1 and b.records_size > 1032 * stored + 64:
        return None
    if (b.attrs & ATTR_CODEC) == 0 and b.records_size != stored:
        return None
    return b


def framing_problem(h, avail):
    """Why a batch header's framing is invalid, as `cano dump` says it."""
    length, attrs = _r32(h, 8), h[13]
    if h[12] != BATCH_MAGIC:
        return "bad batch magic 0x%02x" % h[12]
    if attrs & 0xE0:
        return "reserved attribute bits set"
    if attrs & ATTR_CODEC > 1:
        return "unknown compression %d" % (attrs & ATTR_CODEC)
    if (length < BATCH_HEADER + (8 if attrs & ATTR_HORIZON else 0) or
            length > BATCH_MAX):
        return "bad batch length %d" % length
    if length > avail:
        return "batch of length %d runs past the end of the file" % length
    base = struct.unpack_from("<q", h, 16)[0]
    delta, count = struct.unpack_from("<II", h, 52)
    if base < 0:
        return "negative base offset %d" % base
    if count == 0:
        return "record_count is 0"
    if delta < count - 1:
        return ("last_offset_delta %d is below record_count - 1 (%d)"
                % (delta, count - 1))
    if INT64_MAX - base <= delta:
        return "last offset overflows"
    return "records_size does not match the batch length"


def records_of(batch, b):
    """Decodes the records section: a list of (offset, timestamp, key,
    value, headers); raises Bad."""
    sec = batch[b.records_at:b.length]
    if b.attrs & ATTR_CODEC == 1:
        d = zlib.decompressobj(-15)
        try:
            out = d.decompress(sec, b.records_size + 1)
        except zlib.error:
            raise Bad()
        if (not d.eof or len(out) != b.records_size or d.unused_data or
                d.unconsumed_tail):
            raise Bad()
        sec = out
    p, end = 0, len(sec)
    prev = b.base_offset - 1
    recs = []
    for _ in range(b.count):
        body, p = uvarint(sec, p, end)
        if body < 1 or body > end - p:
            raise Bad()
        rend = p + body
        p += 1                                   # attributes
        ts_delta, p = varint(sec, p, rend)
        off_delta, p = uvarint(sec, p, rend)
        key, p = optbytes(sec, p, rend)
        value, p = optbytes(sec, p, rend)
        nh, p = uvarint(sec, p, rend)
        if off_delta > b.last_delta or nh > (rend - p) // 2:
            raise Bad()
        offset = b.base_offset + off_delta
        if offset <= prev:
            raise Bad()
        headers = []
        for _ in range(nh):
            name_len, p = uvarint(sec, p, rend)
            if name_len > rend - p:
                raise Bad()
            name = bytes(sec[p:p + name_len])
            hv, p = optbytes(sec, p + name_len, rend)
            headers.append((name, hv))
        if p != rend:
            raise Bad()
        if b.attrs & ATTR_APPEND_TS:
            ts = b.max_ts
        else:
            ts = b.base_ts + ts_delta
            if ts < 0 or ts > INT64_MAX:
                raise Bad()
        recs.append((offset, ts, key, value, headers))
        prev = offset
    if p != end:
        raise Bad()
    return recs


# ---------------------------------------------------------------- output

def is_text(b):
    """UTF-8 without control characters other than tab, LF and CR."""
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    for ch in s:
        o = ord(ch)
        if (o < 0x20 and ch not in "\t\n\r") or 0x7F <= o <= 0x9F:
            return False
    return True


def show(b):
    if b is None:
        return b"null"
    if not is_text(b):
        return b"hex:" + b.hex().encode()
    return (b'"' + b.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
            .replace(b"\t", b"\\t").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r") + b'"')


class Dump:
    def __init__(self, store, records, index):
        self.store = store
        self.records = records
        self.index = index
        self.out = sys.stdout.buffer
        self.pending = []
        self.pending_size = 0
        self.topics = self.partitions = self.segments = 0
        self.batches = self.n_records = self.errors = 0
        self.clean = os.path.exists(os.path.join(store, "cano+clean"))

    def line(self, text):
        if isinstance(text, str):
            text = text.encode()
        # Buffered here: stdout may be unbuffered (PYTHONUNBUFFERED).
        self.pending.append(text)
        self.pending_size += len(text) + 1
        if self.pending_size >= 1 << 16:
            self.flush()

    def flush(self):
        self.pending.append(b"")
        self.out.write(b"\n".join(self.pending))
        self.out.flush()
        self.pending = []
        self.pending_size = 0

    def error(self, rel, pos, offset, what):
        s = "error: " + rel
        if pos is not None:
            s += ": position %d" % pos
        if offset is not None:
            s += ": offset %d" % offset
        self.line(s + ": " + what)
        self.errors += 1

    def read(self, rel, limit):
        """The bytes of a file, or an errno."""
        path = os.path.join(self.store, rel)
        try:
            if os.path.getsize(path) > limit:
                return errno.EFBIG
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            return e.errno

    # ---- topic.conf

    def config(self, topic):
        rel = topic + "/topic.conf"
        text = self.read(rel, CONF_MAX)
        if isinstance(text, int):
            self.error(rel, None, None,
                       "missing" if text == errno.ENOENT else
                       "larger than 8192 bytes" if text == errno.EFBIG else
                       os.strerror(text))
            return

        def value(key):
            for ln in text.split(b"\n"):
                if ln.startswith(key + b"="):
                    return ln[len(key) + 1:][:63]
            return b"?"

        stored, ok = b"missing", False
        if text.endswith(b"\n"):
            start = text.rfind(b"\n", 0, len(text) - 1) + 1
            ln = text[start:-1]
            if ln.startswith(b"checksum="):
                if len(ln) - 9 > 16:
                    stored = b"invalid"
                else:
                    stored = ln[9:]
                    ok = stored == b"%016x" % xxh3_64(text[:start])
        self.line(b"config: " + rel.encode() + b" partitions: " +
                  value(b"partitions") + b" cleanup_policy: " +
                  value(b"cleanup_policy") + b" compression: " +
                  value(b"compression") + b" timestamp_type: " +
                  value(b"timestamp_type") + b" checksum: " + stored +
                  (b" OK" if ok else b" BAD"))
        if not ok:
            self.error(rel, None, None, "checksum mismatch")

    # ---- state files

    def offset_file(self, part, name, tag):
        rel = part + "/" + name
        text = self.read(rel, 4096)
        if isinstance(text, int):
            if text != errno.ENOENT:
                self.error(rel, None, None, os.strerror(text))
            return
        v = parse_offset_file(text, tag)
        if v is None:
            self.error(rel, None, None, "malformed")
        else:
            self.line("%s: %d" % (name, v))

    def producers(self, part):
        rel = part + "/producer-state"
        text = self.read(rel, STATE_MAX)
        if isinstance(text, int):
            if text != errno.ENOENT:
                self.error(rel, None, None, os.strerror(text))
            return
        upto, lines, bad = parse_producers(text)
        if bad:
            self.error(rel, None, None, "line %d is malformed" % bad)
            return
        self.line("producer-state: valid_up_to: %d batches: %d"
                  % (upto, len(lines)))
        for pid, seq, count, first in lines:
            self.line("producer: producer_id: %d sequence: %d count: %d "
                      "first_offset: %d" % (pid, seq, count, first))

    # ---- segments

    def batch_line(self, pos, b, stored, computed):
        s = ("batch: position: %d length: %d base_offset: %d last_offset: %d"
             " count: %d base_timestamp: %d max_timestamp: %d"
             " attributes: 0x%02x compression: %s timestamp_type: %s"
             " records_size: %d producer_id: %d base_sequence: %d"
             % (pos, b.length, b.base_offset, b.base_offset + b.last_delta,
                b.count, b.base_ts, b.max_ts, b.attrs,
                "zlib" if b.attrs & ATTR_CODEC == 1 else "none",
                "log-append-time" if b.attrs & ATTR_APPEND_TS
                else "create-time", b.records_size, b.producer_id,
                b.base_seq))
        if b.producer_id >= 0 and b.base_seq >= 0:
            s += " last_sequence: %d" % ((b.base_seq + b.last_delta) % 2**31)
        if b.attrs & ATTR_HORIZON:
            s += " delete_horizon: %d" % b.horizon
        s += " checksum: %016x" % stored
        s += " OK" if stored == computed else " BAD (computed %016x)" % computed
        self.line(s)

    def record_lines(self, recs):
        for offset, ts, key, value, headers in recs:
            hs = b", ".join(show(n) + b": " + show(v) for n, v in headers)
            self.line(b"| offset: %d timestamp: %d key_size: %d "
                      b"value_size: %d key: " % (
                          offset, ts, -1 if key is None else len(key),
                          -1 if value is None else len(value)) +
                      show(key) + b" value: " + show(value) +
                      b" headers: [" + hs + b"]")

    def segment(self, part, base, newest):
        rel = "%s/%020d.log" % (part, base)
        self.segments += 1
        try:
            with open(os.path.join(self.store, rel), "rb") as f:
                data = f.read()
        except OSError as e:
            self.error(rel, None, None, os.strerror(e.errno))
            return
        size = len(data)
        self.line("segment: %s size: %d" % (rel, size))
        expected = newest and not self.clean
        if size < SEG_HEADER:
            self.line("header: none (half-created segment)")
            if not expected:
                self.error(rel, 0, None,
                           "file is shorter than the 128-byte header")
            return
        hdr = data[:SEG_HEADER]
        if hdr == bytes(SEG_HEADER):
            self.line("header: all zero (half-created segment)")
            if not expected:
                self.error(rel, 0, None, "header is all zero bytes")
            return
        (version, hsize, hbase, flushed_len, flushed_next, flushed_max,
         state, _, log_max) = struct.unpack_from("<IIqQqqIIq", hdr, 8)
        stored, computed = _r64(hdr, 120), xxh3_64(hdr[:120])
        st = {0: "active", 1: "sealed"}.get(state, str(state))
        self.line(b"header: magic: " + show(hdr[:8]) + (
            " version: %d header_size: %d base_offset: %d flushed_len: %d"
            " flushed_next_offset: %d flushed_max_timestamp: %d state: %s"
            " log_max_timestamp: %d checksum: %016x %s" % (
                version, hsize, hbase, flushed_len, flushed_next,
                flushed_max, st, log_max, stored,
                "OK" if stored == computed
                else "BAD (computed %016x)" % computed)).encode())
        problem = None
        if hdr[:8] != SEG_MAGIC:
            problem = 'bad magic (not "CANOSEG1")'
        elif version != 1:
            problem = "unknown version %d" % version
        elif hsize != SEG_HEADER:
            problem = "header_size is %d, not 128" % hsize
        elif hbase != base:
            problem = ("base_offset %d does not match the file name (%d)"
                       % (hbase, base))
        elif stored != computed:
            problem = ("header checksum mismatch (stored %016x, computed "
                       "%016x)" % (stored, computed))
        elif state > 1:
            problem = "unknown state %d" % state
        elif flushed_next < base:
            problem = "flushed_next_offset is below the base offset"
        elif flushed_len > 16 * BATCH_MAX:
            problem = "flushed_len is out of range"
        flush_end = SEG_HEADER
        if problem:
            self.error(rel, 0, None, problem)
        else:
            flush_end = SEG_HEADER + flushed_len
            if flush_end > size:
                self.error(rel, 0, None, "flushed_len %d is beyond the end "
                           "of the file" % flushed_len)
        self.walk(rel, data, base, flush_end, newest, expected)

    def walk(self, rel, data, base, flush_end, newest, expected):
        size = len(data)
        pos, nxt = SEG_HEADER, base
        n_batches = n_recs = 0
        end = SEG_HEADER
        while pos < size:
            avail = size - pos
            h = data[pos:pos + BATCH_HEADER]
            why, bline = None, None
            if len(h) < BATCH_HEADER or h == bytes(BATCH_HEADER):
                if any(data[pos:]):
                    why = ("fewer bytes than a batch header"
                           if len(h) < BATCH_HEADER
                           else "non-zero bytes after an all-zero batch "
                                "header")
            else:
                b = parse_header(h, BATCH_HEADER)
                if b == "short" and _r32(h, 8) <= avail:
                    b = parse_header(data[pos:pos + _r32(h, 8)], avail)
                if not isinstance(b, Batch):
                    why = framing_problem(h, avail)
                else:
                    batch = data[pos:pos + b.length]
                    stored = _r64(batch, 0)
                    computed = xxh3_64(batch[8:])
                    recs = None
                    if stored != computed:
                        why = ("checksum mismatch (stored %016x, computed "
                               "%016x)" % (stored, computed))
                    else:
                        try:
                            recs = records_of(batch, b)
                        except Bad:
                            why = "records do not decode"
                        if why is None and b.base_offset < nxt:
                            why = ("base offset %d is below the end of the "
                                   "previous batch (%d)"
                                   % (b.base_offset, nxt))
                    if why is None or pos < flush_end:
                        # A batch: valid, or damaged below the flush point
                        # (its framing still says where the next one is).
                        self.batch_line(pos, b, stored, computed)
                        n_batches += 1
                        end = pos + b.length
                        if stored == computed:
                            nxt = max(nxt, b.base_offset + b.last_delta + 1)
                        if why is not None:
                            self.error(rel, pos, b.base_offset, why)
                        else:
                            n_recs += b.count
                            if self.records:
                                self.record_lines(recs)
                        pos += b.length
                        continue
                    bline = (pos, b, stored, computed)
            # The data ends at pos: the rest is a zero or a torn tail.
            if bline:
                self.batch_line(*bline)
            zero = why is None
            self.line("tail: position: %d bytes: %d %s" % (
                pos, size - pos, "zero" if zero else "torn: " + why))
            if pos < flush_end:
                self.error(rel, pos, None, "the data ends before the flush "
                           "point (position %d)" % flush_end)
            elif not zero and not expected:
                self.error(rel, pos, None, "torn data after the last batch" +
                           (" after a clean shutdown" if newest
                            else " of a closed segment"))
            break
        self.line("end: position: %d batches: %d records: %d"
                  % (end, n_batches, n_recs))
        self.batches += n_batches
        self.n_records += n_recs

    # ---- indexes

    def index_file(self, part, base, name, magic, entry):
        rel = "%s/%020d.%s" % (part, base, name)
        data = self.read(rel, 1 << 31)
        if isinstance(data, int):
            if data == errno.ENOENT:
                self.line("%s: %s missing" % (name, rel))
            else:
                self.error(rel, None, None, os.strerror(data))
            return
        if (len(data) < 16 or data[:8] != magic or
                struct.unpack_from("<q", data, 8)[0] != base):
            self.line("%s: %s size: %d entries: 0" % (name, rel, len(data)))
            self.error(rel, 0, None, "bad header")
            return
        entries = []
        for at in range(16, len(data) - entry + 1, entry):
            e = data[at:at + entry]
            if e == bytes(entry):
                break
            entries.append(e)
        self.line("%s: %s size: %d entries: %d"
                  % (name, rel, len(data), len(entries)))
        for e in entries:
            if entry == 8:
                r, p = struct.unpack("<II", e)
                self.line("| relative_offset: %d offset: %d position: %d"
                          % (r, base + r, p))
            else:
                ts, r = struct.unpack("<qI", e)
                self.line("| timestamp: %d relative_offset: %d offset: %d"
                          % (ts, r, base + r))

    # ---- the walk

    def partition(self, topic, p):
        part = "%s/%d" % (topic, p)
        self.partitions += 1
        self.line("partition: " + part)
        self.offset_file(part, "log-start-offset", b"cano-log-start")
        self.offset_file(part, "cleaner-offset", b"cano-cleaner")
        self.producers(part)
        try:
            bases = list_segments(os.path.join(self.store, part))
        except OSError as e:
            self.error(part, None, None, os.strerror(e.errno))
            return
        for i, base in enumerate(bases):
            self.segment(part, base, i + 1 == len(bases))
            if self.index:
                self.index_file(part, base, "index", b"CANOOIX1", 8)
                self.index_file(part, base, "timeindex", b"CANOTIX1", 12)

    def topic(self, topic, only_part):
        self.topics += 1
        self.line("topic: " + topic)
        self.config(topic)
        try:
            parts = list_partitions(os.path.join(self.store, topic))
        except OSError as e:
            self.error(topic, None, None, os.strerror(e.errno))
            return
        found = False
        for p in parts:
            if only_part is not None and str(p) != only_part:
                continue
            found = True
            self.partition(topic, p)
        if only_part is not None and not found:
            self.error(topic, None, None, "no partition " + only_part)

    def run(self, only_topic, only_part):
        topics = list_topics(self.store)
        self.line("store: clean-shutdown marker: " +
                  ("present" if self.clean else "absent"))
        found = False
        for t in topics:
            if only_topic is not None and t != only_topic:
                continue
            found = True
            self.topic(t, only_part)
        if only_topic is not None and not found:
            self.error(only_topic, None, None, "no such topic")
        self.line("summary: topics: %d partitions: %d segments: %d "
                  "batches: %d records: %d errors: %d" % (
                      self.topics, self.partitions, self.segments,
                      self.batches, self.n_records, self.errors))
        self.flush()
        return 1 if self.errors else 0


def decimal(text, p):
    """Digits at p: (value, position after them), or None."""
    q, x = p, 0
    while q < len(text) and 0x30 <= text[q] <= 0x39:
        if x > (INT64_MAX - 9) // 10:
            return None
        x = x * 10 + text[q] - 0x30
        q += 1
    if q == p:
        return None
    return x, q


def parse_offset_file(text, tag):
    """'<tag>=1\\n<offset>\\n': the offset, or None."""
    head = tag + b"=1\n"
    if not text.startswith(head):
        return None
    d = decimal(text, len(head))
    if d is None or d[1] != len(text) - 1 or text[-1:] != b"\n":
        return None
    return d[0]


def parse_producers(text):
    """(valid_up_to, [(pid, seq, count, first)...], bad line number or 0)"""
    if not text.startswith(b"cano-producers=1\n"):
        return 0, [], 1
    d = decimal(text, 17)
    if d is None or text[d[1]:d[1] + 1] != b"\n":
        return 0, [], 2
    upto, p = d[0], d[1] + 1
    lines = []
    line = 3
    while p < len(text):
        vals = []
        for i in range(4):
            d = decimal(text, p)
            if d is None or text[d[1]:d[1] + 1] != (b"\n" if i == 3 else b" "):
                return upto, lines, line
            vals.append(d[0])
            p = d[1] + 1
        lines.append(tuple(vals))
        line += 1
    return upto, lines, 0


def topic_name_ok(n):
    return (0 < len(n) <= 249 and n not in (".", "..") and
            all(c.isascii() and (c.isalnum() or c in "._-") for c in n))


def list_topics(store):
    return sorted(n for n in os.listdir(store)
                  if topic_name_ok(n) and os.path.isdir(os.path.join(store, n)))


def list_partitions(topic_dir):
    return sorted(int(n) for n in os.listdir(topic_dir)
                  if n.isascii() and n.isdigit() and len(n) <= 9 and
                  (n == "0" or n[0] != "0") and
                  os.path.isdir(os.path.join(topic_dir, n)))


def list_segments(part_dir):
    return sorted(int(n[:20]) for n in os.listdir(part_dir)
                  if len(n) == 24 and n.endswith(".log") and n[0] == "0" and
                  n[:20].isascii() and n[:20].isdigit() and
                  int(n[:20]) <= INT64_MAX)


def main(argv):
    records, index, pos = True, False, []
    opts_done = False
    for a in argv[1:]:
        if opts_done or not a.startswith("-") or a == "-":
            pos.append(a)
        elif a == "--":
            opts_done = True
        elif a in ("--records", "-r"):
            records = True
        elif a == "--no-records":
            records = False
        elif a in ("--index", "-i"):
            index = True
        elif a in ("--help", "-h"):
            sys.stdout.write(__doc__)
            return 0
        else:
            sys.stderr.write("canodump.py: unknown option %s\n" % a)
            return 2
    if not 1 <= len(pos) <= 3:
        sys.stderr.write("usage: canodump.py [--index] [--no-records] "
                         "DIR [TOPIC [PARTITION]]\n")
        return 2
    store = pos[0]
    try:
        os.listdir(store)
    except OSError as e:
        sys.stderr.write("canodump.py: %s: %s\n" % (store, e.strerror))
        return 1
    d = Dump(store, records, index)
    return d.run(pos[1] if len(pos) > 1 else None,
                 pos[2] if len(pos) > 2 else None)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:
        # The reader of the output went away (| head): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
