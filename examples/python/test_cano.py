"""Tests of the cano Python binding (python3 -m unittest, from this
directory; CANO_LIB may name the shared library to test)."""

import dataclasses
import datetime
import gc
import os
import subprocess
import sys
import tempfile
import unittest

import cano


class StoreCase(unittest.TestCase):
    """Each test gets a fresh directory and a store in it (self.store)."""

    store_options = {}

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="cano-py-")
        self.addCleanup(self._tmp.cleanup)
        self.path = os.path.join(self._tmp.name, "store")
        self.store = cano.Store(self.path, **self.store_options)
        self.addCleanup(self.store.close)

    def reopen(self, **options):
        self.store.close()
        self.store = cano.Store(self.path, **options)
        return self.store

    def assertCode(self, cm, code, cls):
        """The exception caught by cm is a cls with this code and name."""
        e = cm.exception
        self.assertIsInstance(e, cls)
        self.assertIsInstance(e, cano.Error)
        self.assertEqual(e.code, code)
        self.assertEqual(e.name, cano._ERROR_NAMES[code])
        self.assertTrue(str(e).startswith(e.name + ": "), str(e))


class TestModule(unittest.TestCase):
    def test_version(self):
        v = cano.version()
        major, minor, patch = (int(x) for x in v.split("."))
        self.assertEqual(cano.version_number(),
                         major * 1000000 + minor * 1000 + patch)
        self.assertEqual(major, 0)

    def test_strerror_and_constants(self):
        self.assertEqual(cano.ENOTFOUND, -6)
        self.assertEqual(cano.ESEQUENCE, -14)
        self.assertEqual(cano.PARTITION_AUTO, -1)
        self.assertEqual(cano.OFFSET_EARLIEST, -2)
        self.assertIsInstance(cano.strerror(cano.ENOTFOUND), str)
        self.assertNotEqual(cano.strerror(cano.ENOTFOUND),
                            cano.strerror(cano.EEXIST))

    def test_error_classes(self):
        e = cano._make_error(cano.EOFFSET, "detail here")
        self.assertIsInstance(e, cano.OffsetOutOfRange)
        self.assertEqual((e.code, e.name, e.detail),
                         (cano.EOFFSET, "CANO_EOFFSET", "detail here"))
        self.assertIn("detail here", str(e))
        self.assertIsInstance(cano._make_error(cano.EINVAL), ValueError)
        unknown = cano._make_error(-999)
        self.assertEqual(type(unknown), cano.Error)
        self.assertEqual(unknown.code, -999)

    def test_struct_sizes(self):
        # The layouts of cano.h on LP64 (checked against the C compiler).
        import ctypes
        sizes = {cano._Options: 48, cano._TopicConfig: 136,
                 cano._Record: 72, cano._Header: 32,
                 cano._PartitionInfo: 72, cano._RecoveryInfo: 56,
                 cano._GroupInfo: 48}
        if ctypes.sizeof(ctypes.c_void_p) == 8:
            for struct, size in sizes.items():
                self.assertEqual(ctypes.sizeof(struct), size, struct.__name__)


class TestStore(StoreCase):
    def test_context_manager_closes(self):
        path = os.path.join(self._tmp.name, "other")
        with cano.Store(path) as s:
            self.assertFalse(s.closed)
            s.create_topic("a")
        self.assertTrue(s.closed)
        s.close()                                   # a second close is fine
        with self.assertRaises(cano.Closed) as cm:
            s.topics()
        self.assertCode(cm, cano.ECLOSED, cano.Closed)

    def test_reopen_persists(self):
        t = self.store.create_topic("events", partitions=2)
        t.append(b"one", partition=1)
        t.append(b"two", key=b"k", partition=1)
        self.reopen()
        self.assertEqual(self.store.recovery_report(), [])
        t = self.store.topic("events")
        self.assertEqual(t.partitions, 2)
        recs = t.read(1)
        self.assertEqual([(r.offset, r.key, r.value) for r in recs],
                         [(0, None, b"one"), (1, b"k", b"two")])

    def test_locked(self):
        with self.assertRaises(cano.Locked) as cm:
            cano.Store(self.path)
        self.assertCode(cm, cano.ELOCKED, cano.Locked)

    def test_must_exist(self):
        missing = os.path.join(self._tmp.name, "missing")
        with self.assertRaises(cano.NotFound) as cm:
            cano.Store(missing, create=False)
        self.assertCode(cm, cano.ENOTFOUND, cano.NotFound)
        self.assertFalse(os.path.exists(missing))
        self.store.close()
        with cano.Store(self.path, create=False, sync="always") as s:
            self.assertEqual(s.topics(), [])

    def test_bad_options(self):
        with self.assertRaises(cano.InvalidArgument):
            cano.Store(os.path.join(self._tmp.name, "x"), sync="sometimes")
        with self.assertRaises(cano.NotFound):          # parent missing
            cano.Store(os.path.join(self._tmp.name, "no", "such"))

    def test_recovery_report_after_crash(self):
        self.store.close()
        script = (
            "import os, cano\n"
            "s = cano.Store(%r)\n"
            "t = s.create_topic('crashy', partitions=2)\n"
            "for i in range(5): t.append(b'r%%d' %% i, partition=1)\n"
            "os._exit(0)\n" % self.path)
        env = dict(os.environ)
        subprocess.run([sys.executable, "-c", script], check=True, env=env,
                       cwd=os.path.dirname(os.path.abspath(cano.__file__)))
        self.store = cano.Store(self.path)
        report = self.store.recovery_report()
        self.assertTrue(report)
        self.assertTrue(all(isinstance(r, cano.RecoveryInfo) for r in report))
        self.assertTrue(all(r.topic == "crashy" for r in report))
        by_part = {r.partition: r for r in report}
        self.assertEqual(by_part[1].end_offset, 5)
        self.assertEqual(by_part[1].bytes_cut, 0)
        self.assertGreater(by_part[1].bytes_scanned, 0)
        self.assertEqual(by_part[1].files_set_aside, 0)
        t = self.store.topic("crashy")
        self.assertEqual([r.value for r in t.read(1)],
                         [b"r0", b"r1", b"r2", b"r3", b"r4"])


class TestTopics(StoreCase):
    def test_create_list_delete(self):
        self.assertEqual(self.store.topics(), [])
        t = self.store.create_topic("beta", partitions=4)
        self.assertIsInstance(t, cano.Topic)
        self.assertEqual((t.name, t.partitions), ("beta", 4))
        self.store.create_topic("alpha")
        self.store.create_topic("a.b-c_9")
        self.assertEqual(self.store.topics(), ["a.b-c_9", "alpha", "beta"])
        self.assertIn("alpha", self.store)
        self.assertNotIn("gamma", self.store)
        self.assertEqual(self.store["alpha"].partitions, 1)

        with self.assertRaises(cano.Exists) as cm:
            self.store.create_topic("alpha")
        self.assertCode(cm, cano.EEXIST, cano.Exists)
        same = self.store.create_topic("beta", exist_ok=True)
        self.assertEqual(same, t)
        self.assertEqual(same.partitions, 4)

        t.append(b"x")
        self.store.delete_topic("beta")
        self.assertEqual(self.store.topics(), ["a.b-c_9", "alpha"])
        with self.assertRaises(cano.NotFound) as cm:
            t.append(b"y")                     # the old handle
        self.assertCode(cm, cano.ENOTFOUND, cano.NotFound)
        with self.assertRaises(cano.NotFound):
            t.partitions
        with self.assertRaises(cano.NotFound) as cm:
            self.store.topic("beta")
        self.assertCode(cm, cano.ENOTFOUND, cano.NotFound)
        with self.assertRaises(cano.NotFound):
            self.store.delete_topic("beta")
        self.reopen()
        self.assertEqual(self.store.topics(), ["a.b-c_9", "alpha"])

    def test_bad_names(self):
        for name in ["", "../x", "a/b", ".", "..", "__internal", "sp ace",
                     "x" * 250, "é"]:
            with self.subTest(name=name):
                with self.assertRaises(cano.InvalidArgument) as cm:
                    self.store.create_topic(name)
                self.assertCode(cm, cano.EINVAL, cano.InvalidArgument)
        with self.assertRaises(cano.InvalidArgument):
            self.store.create_topic("nul\0byte")
        self.store.create_topic("x" * 249)
        self.assertEqual(self.store.topics(), ["x" * 249])

    def test_bad_config(self):
        with self.assertRaises(TypeError):
            self.store.create_topic("t", no_such_setting=1)
        with self.assertRaises(cano.InvalidArgument) as cm:
            self.store.create_topic("t", partitions=-1)
        self.assertCode(cm, cano.EINVAL, cano.InvalidArgument)
        with self.assertRaises(cano.InvalidArgument):
            self.store.create_topic("t", compression="lz4")
        with self.assertRaises(cano.InvalidArgument):
            self.store.create_topic("t", min_cleanable_dirty_ratio=2.0)
        self.assertEqual(self.store.topics(), [])

    def test_config_round_trip(self):
        t = self.store.create_topic(
            "cfg", partitions=3, segment_bytes=1 << 20, segment_ms=60000,
            index_interval_bytes=0, max_record_bytes=5000,
            max_batch_bytes=1 << 16, compression="zlib", compression_level=9,
            timestamp_type="log_append_time", sync="always",
            cleanup_policy="compact,delete", retention_ms=-1,
            retention_bytes=1 << 30, delete_retention_ms=1000,
            min_compaction_lag_ms=5, max_compaction_lag_ms=600000,
            min_cleanable_dirty_ratio=0.25,
            retention_groups=["billing", "audit"],
            retention_groups_max_bytes=1 << 25)
        want = cano.TopicConfig(
            partitions=3, segment_bytes=1 << 20, segment_ms=60000,
            index_interval_bytes=0, max_record_bytes=5000,
            max_batch_bytes=1 << 16, compression="zlib", compression_level=9,
            timestamp_type="log_append_time", sync="always",
            cleanup_policy="delete,compact", retention_ms=-1,
            retention_bytes=1 << 30, delete_retention_ms=1000,
            min_compaction_lag_ms=5, max_compaction_lag_ms=600000,
            min_cleanable_dirty_ratio=0.25,
            retention_groups="billing,audit",
            retention_groups_max_bytes=1 << 25)
        self.assertEqual(t.config, want)
        copy = self.store.create_topic("copy", **dataclasses.asdict(want))
        self.assertEqual(copy.config, want)
        self.reopen()
        self.assertEqual(self.store.topic("cfg").config, want)

    def test_default_config(self):
        c = self.store.create_topic("d").config
        self.assertEqual(c.partitions, 1)
        self.assertEqual(c.sync, "default")
        self.assertEqual(c.cleanup_policy, "delete")
        self.assertEqual(c.compression, "none")
        self.assertIsNone(c.retention_groups)
        self.assertEqual(c.retention_bytes, -1)
        self.assertEqual(self.store.create_topic("e", sync_mode="none")
                         .config.sync, "none")


class TestAppendRead(StoreCase):
    def setUp(self):
        super().setUp()
        self.t = self.store.create_topic("t")

    def test_round_trip(self):
        hdrs = [(b"h1", b"v1"), (b"h2", None), (b"h1", b"again")]
        self.assertEqual(self.t.append(b"value", key=b"key", headers=hdrs,
                                       timestamp=1234),
                         (0, 0))
        a = self.t.append(b"second")
        self.assertEqual((a.partition, a.offset), (0, 1))
        recs = self.t.read(0, 0)
        self.assertEqual(recs[0], cano.Record(
            key=b"key", value=b"value", headers=tuple(hdrs),
            timestamp=1234, offset=0, partition=0))
        self.assertEqual(recs[1].key, None)
        self.assertEqual(recs[1].headers, ())
        self.assertEqual(len(recs), 2)
        self.assertEqual(self.t.read(0, 1), recs[1:])
        self.assertEqual(self.t.read(0, 2), [])          # the end offset
        self.assertEqual(self.t.read(0, 0, max_records=1), recs[:1])
        self.assertEqual(self.t.read(0, 0, max_records=0), [])
        self.assertEqual(self.t.read(0, cano.OFFSET_LATEST), [])

    def test_tombstone_and_empty(self):
        self.t.append(None, key=b"gone")
        self.t.append(b"", key=b"")
        self.t.append(b"", key=None, headers={"empty": b""})
        r0, r1, r2 = self.t.read()
        self.assertEqual((r0.key, r0.value), (b"gone", None))
        self.assertEqual((r1.key, r1.value), (b"", b""))
        self.assertEqual((r2.key, r2.value, r2.headers),
                         (None, b"", ((b"empty", b""),)))

    def test_binary_and_str(self):
        blob = bytes(range(256)) * 4 + b"\0\0\0"
        self.t.append(blob, key=b"\0k\0", headers=[(b"\0", blob)])
        self.t.append("héllo ✓", key="ключ", headers=[("name", "välue")])
        self.t.append(bytearray(b"ba"), key=memoryview(b"mv"))
        r0, r1, r2 = self.t.read()
        self.assertEqual((r0.key, r0.value, r0.headers),
                         (b"\0k\0", blob, ((b"\0", blob),)))
        self.assertEqual(r1.value, "héllo ✓".encode())
        self.assertEqual(r1.key, "ключ".encode())
        self.assertEqual(r1.headers, (("name".encode(), "välue".encode()),))
        self.assertIsInstance(r1.value, bytes)
        self.assertEqual((r2.key, r2.value), (b"mv", b"ba"))
        with self.assertRaises(TypeError):
            self.t.append(12345)
        with self.assertRaises(TypeError):
            self.t.append(b"x", headers=[b"not a pair"])
        self.assertEqual(self.t.stat().end_offset, 3)

    def test_timestamps(self):
        self.t.append(b"a", timestamp=1000)
        dt = datetime.datetime(2024, 1, 2, 3, 4, 5,
                               tzinfo=datetime.timezone.utc)
        self.t.append(b"b", timestamp=dt)
        before = int(datetime.datetime.now().timestamp() * 1000)
        self.t.append(b"c")                           # 0 = now
        after = int(datetime.datetime.now().timestamp() * 1000)
        r = self.t.read()
        self.assertEqual(r[0].timestamp, 1000)
        self.assertEqual(r[1].timestamp, int(dt.timestamp() * 1000))
        self.assertTrue(before - 1000 <= r[2].timestamp <= after + 1000)
        with self.assertRaises(cano.InvalidArgument) as cm:
            self.t.append(b"neg", timestamp=-5)
        self.assertCode(cm, cano.EINVAL, cano.InvalidArgument)

    def test_log_append_time(self):
        t = self.store.create_topic("lat", timestamp_type="log_append_time")
        t.append(b"x", timestamp=42)
        self.assertNotEqual(t.read()[0].timestamp, 42)

    def test_offset_for_time(self):
        for ts in (1000, 2000, 2000, 3000):
            self.t.append(b"x", timestamp=ts)
        self.assertEqual(self.t.offset_for_time(0, 0), 0)
        self.assertEqual(self.t.offset_for_time(0, 1000), 0)
        self.assertEqual(self.t.offset_for_time(0, 1500), 1)
        self.assertEqual(self.t.offset_for_time(0, 2000), 1)
        self.assertEqual(self.t.offset_for_time(0, 2001), 3)
        self.assertEqual(self.t.offset_for_time(0, 5000), 4)   # the end
        with self.assertRaises(cano.InvalidArgument):
            self.t.offset_for_time(7, 0)

    def test_batch_atomic_offsets(self):
        self.t.append(b"before")
        first = self.t.append_batch([
            b"plain",
            (b"k1", b"v1"),
            (b"k2", None, [(b"h", b"v")]),
            (b"k3", "v3", None, 777),
            {"key": "k4", "value": "v4", "timestamp": 888},
            cano.Record(b"k5", b"v5", ((b"a", None),), 999),
        ], partition=0)
        self.assertEqual(first, 1)
        self.assertEqual(self.t.append(b"after").offset, 7)
        recs = self.t.read(0, 1, max_records=6)
        self.assertEqual([r.offset for r in recs], list(range(1, 7)))
        self.assertEqual([(r.key, r.value) for r in recs],
                         [(None, b"plain"), (b"k1", b"v1"), (b"k2", None),
                          (b"k3", b"v3"), (b"k4", b"v4"), (b"k5", b"v5")])
        self.assertEqual(recs[2].headers, ((b"h", b"v"),))
        self.assertEqual([r.timestamp for r in recs[3:]], [777, 888, 999])
        self.assertEqual(recs[5].headers, ((b"a", None),))
        with self.assertRaises(cano.InvalidArgument):
            self.t.append_batch([])

    def test_batch_all_or_nothing(self):
        t = self.store.create_topic("small", max_record_bytes=100)
        with self.assertRaises(cano.TooBig) as cm:
            t.append_batch([b"ok", b"x" * 200, b"ok"])
        self.assertCode(cm, cano.ETOOBIG, cano.TooBig)
        self.assertEqual(t.stat().end_offset, 0)
        with self.assertRaises(cano.TooBig):
            t.append(b"y" * 101)
        t.append(b"y" * 100)
        self.assertEqual(t.stat().end_offset, 1)

    def test_compression(self):
        t = self.store.create_topic("z", compression="zlib")
        value = b"compressible " * 1000
        t.append_batch([value, value[:-1], b""], partition=0)
        self.assertEqual([r.value for r in t.read()],
                         [value, value[:-1], b""])
        self.assertLess(t.stat().bytes, len(value))

    def test_bad_partition(self):
        with self.assertRaises(cano.InvalidArgument) as cm:
            self.t.append(b"x", partition=1)
        self.assertCode(cm, cano.EINVAL, cano.InvalidArgument)
        with self.assertRaises(cano.InvalidArgument):
            self.t.read(5, 0)
        with self.assertRaises(cano.InvalidArgument):
            self.t.stat(-3)

    def test_read_out_of_range(self):
        self.t.append(b"x")
        with self.assertRaises(cano.OffsetOutOfRange) as cm:
            self.t.read(0, 2)
        self.assertCode(cm, cano.EOFFSET, cano.OffsetOutOfRange)
        self.assertIn("offset", cm.exception.detail)


class TestPartitions(StoreCase):
    def test_key_hashing(self):
        t = self.store.create_topic("p", partitions=8)
        seen = set()
        for i in range(64):
            key = "user-%d" % i
            p = t.partition_for_key(key)
            self.assertEqual(p, t.partition_for_key(key.encode()))
            self.assertTrue(0 <= p < 8)
            a = t.append(b"v", key=key)
            self.assertEqual(a.partition, p)
            seen.add(p)
        self.assertGreater(len(seen), 4)
        total = sum(t.stat(p).end_offset for p in range(8))
        self.assertEqual(total, 64)
        for p in range(8):
            for r in t.read(p):
                self.assertEqual(r.partition, p)
                self.assertEqual(t.partition_for_key(r.key), p)

    def test_keyless_round_robin(self):
        t = self.store.create_topic("rr", partitions=3)
        parts = [t.append(b"x").partition for _ in range(6)]
        self.assertEqual(sorted(parts), [0, 0, 1, 1, 2, 2])
        first = t.append_batch([(b"kk", b"1"), (None, b"2")])
        p = t.partition_for_key(b"kk")
        self.assertEqual([r.value for r in t.read(p, first)], [b"1", b"2"])

    def test_stat(self):
        t = self.store.create_topic("s", partitions=2, segment_bytes=200)
        info = t.stat(1)
        self.assertEqual(info, cano.PartitionInfo(
            partition=1, start_offset=0, end_offset=0, segments=1, bytes=0,
            durable_offset=0, max_timestamp=-1, dirty_ratio=0.0,
            cleaned_offset=0))
        for i in range(10):
            t.append(b"x" * 50, partition=1, timestamp=5000 + i)
        self.store.sync()
        info = t.stat(1)
        self.assertEqual((info.partition, info.start_offset, info.end_offset,
                          info.durable_offset, info.max_timestamp),
                         (1, 0, 10, 10, 5009))
        self.assertGreater(info.segments, 1)
        self.assertGreater(info.bytes, 500)
        self.assertEqual(t.stat(0).end_offset, 0)


class TestReader(StoreCase):
    def setUp(self):
        super().setUp()
        self.t = self.store.create_topic("r")
        for i in range(5):
            self.t.append(b"v%d" % i, key=b"k%d" % i)

    def test_iterate_and_next(self):
        with self.t.reader(0) as r:
            self.assertEqual(r.position, 0)
            self.assertEqual([x.value for x in r],
                             [b"v0", b"v1", b"v2", b"v3", b"v4"])
            self.assertEqual(r.position, 5)
            self.assertEqual(list(r), [])              # no waiting
            self.assertIsNone(r.next(0))
            self.assertIsNone(r.next(50))             # a short wait
            self.t.append(b"v5")
            rec = r.next(0)
            self.assertEqual((rec.offset, rec.value), (5, b"v5"))
            self.t.append_batch([b"v6", b"v7"], partition=0)
            self.assertEqual([x.offset for x in r], [6, 7])
        self.assertTrue(r.closed)
        with self.assertRaises(cano.Closed) as cm:
            r.next()
        self.assertCode(cm, cano.ECLOSED, cano.Closed)
        r.close()

    def test_start_positions(self):
        with self.t.reader(0, offset=3) as r:
            self.assertEqual([x.offset for x in r], [3, 4])
        with self.t.reader(0, offset=cano.OFFSET_LATEST) as r:
            self.assertEqual(r.position, 5)
            self.assertIsNone(r.next())
        with self.assertRaises(cano.OffsetOutOfRange) as cm:
            self.t.reader(0, offset=6)
        self.assertCode(cm, cano.EOFFSET, cano.OffsetOutOfRange)
        with self.assertRaises(cano.InvalidArgument):
            self.t.reader(1)

    def test_seek_position(self):
        with self.t.reader(0) as r:
            r.seek(2)
            self.assertEqual(r.position, 2)
            self.assertEqual(r.next().value, b"v2")
            self.assertEqual(r.position, 3)
            r.seek(cano.OFFSET_LATEST)
            self.assertEqual(r.position, 5)
            r.seek(cano.OFFSET_EARLIEST)
            self.assertEqual(r.position, 0)
            with self.assertRaises(cano.OffsetOutOfRange):
                r.seek(99)
            self.assertEqual(r.position, 0)

    def test_timeout_returns_none(self):
        import time
        with self.t.reader(0, offset=cano.OFFSET_LATEST) as r:
            start = time.monotonic()
            self.assertIsNone(r.next(timeout_ms=150))
            self.assertLess(time.monotonic() - start, 30)

    def test_durable_reader(self):
        self.reopen(sync="none")
        t = self.store.create_topic("d")
        t.append(b"a")
        self.assertEqual(t.stat().durable_offset, 0)
        with t.reader(0, durable=True) as r:
            self.assertTrue(r.durable)
            self.assertIsNone(r.next(0))
            self.store.sync()
            self.assertEqual(r.next(0).value, b"a")
            t.append(b"b")
            self.assertIsNone(r.next(0))
            r.durable = False
            self.assertEqual(r.next(0).value, b"b")

    def test_reader_below_log_start(self):
        with self.t.reader(0) as r:
            self.t.delete_records(0, 3)
            with self.assertRaises(cano.OffsetOutOfRange) as cm:
                r.next()
            self.assertCode(cm, cano.EOFFSET, cano.OffsetOutOfRange)
            r.seek(cano.OFFSET_EARLIEST)
            self.assertEqual(r.next().offset, 3)

    def test_topic_deleted_under_reader(self):
        r = self.t.reader(0)
        self.store.delete_topic("r")
        with self.assertRaises(cano.NotFound):
            r.next()
        r.close()

    def test_gc_reader_after_store(self):
        # The store closes first; the reader object is collected later.
        r = self.t.reader(0)
        self.store.close()
        with self.assertRaises(cano.Closed):
            r.next()
        self.assertTrue(r.closed)
        del r
        gc.collect()
        # Unclosed readers of an unreachable store: any collection order.
        s = cano.Store(os.path.join(self._tmp.name, "gc"))
        t = s.create_topic("g")
        t.append(b"x")
        readers = [t.reader(0) for _ in range(3)]
        readers[0].next()
        s._cycle = readers                      # a reference cycle
        del s, t, readers
        gc.collect()
        s2 = cano.Store(os.path.join(self._tmp.name, "gc"))   # unlocked
        self.assertEqual(s2.recovery_report(), [])             # clean close
        self.assertEqual(len(s2.topic("g").read()), 1)
        s2.close()

    def test_reader_closed_before_store(self):
        r = self.t.reader(0)
        r.close()
        del r
        gc.collect()
        self.store.close()
        gc.collect()


class TestRetention(StoreCase):
    def test_delete_records(self):
        t = self.store.create_topic("t")
        for i in range(10):
            t.append(b"%d" % i)
        t.delete_records(0, 4)
        self.assertEqual(t.stat().start_offset, 4)
        with self.assertRaises(cano.OffsetOutOfRange) as cm:
            t.read(0, 3)
        self.assertCode(cm, cano.EOFFSET, cano.OffsetOutOfRange)
        self.assertEqual([r.offset for r in t.read()], list(range(4, 10)))
        t.delete_records(0, 2)                          # no change
        self.assertEqual(t.stat().start_offset, 4)
        with self.assertRaises(cano.OffsetOutOfRange):
            t.delete_records(0, 11)
        self.reopen()
        self.assertEqual(self.store.topic("t").stat().start_offset, 4)

    def test_compaction_keeps_latest(self):
        t = self.store.create_topic("c", cleanup_policy="compact",
                                    segment_bytes=60)
        for i in range(9):
            t.append("v%d" % i, key="k%d" % (i % 3))
        t.append(None, key="k1")                         # tombstone
        t.append("filler", key="zz")          # seals everything before it
        with self.assertRaises(cano.InvalidArgument) as cm:
            t.append(b"no key")
        self.assertCode(cm, cano.EINVAL, cano.InvalidArgument)
        t.compact(0)
        got = [(r.offset, r.key, r.value) for r in t.read()]
        self.assertEqual(got, [(6, b"k0", b"v6"), (8, b"k2", b"v8"),
                               (9, b"k1", None), (10, b"zz", b"filler")])
        self.assertGreaterEqual(t.stat().cleaned_offset, 10)
        with self.assertRaises(cano.InvalidArgument):
            self.store.create_topic("plain").compact(0)

    def test_maintain_time_retention(self):
        t = self.store.create_topic("old", retention_ms=0, segment_bytes=60)
        for i in range(5):
            t.append(b"x" * 20)
        self.assertEqual(t.stat().start_offset, 0)
        self.store.maintain()
        info = t.stat()
        self.assertEqual(info.end_offset, 5)
        self.assertGreater(info.start_offset, 0)
        self.assertEqual(t.read()[0].offset, info.start_offset)


class TestGroups(StoreCase):
    def test_commit_committed_groups(self):
        t = self.store.create_topic("orders", partitions=2)
        for i in range(6):
            t.append(b"o%d" % i, partition=i % 2)
        with self.assertRaises(cano.NotFound) as cm:
            self.store.committed("billing", "orders", 0)
        self.assertCode(cm, cano.ENOTFOUND, cano.NotFound)
        self.assertIsNone(self.store.committed("billing", "orders", 0, None))
        self.store.commit("billing", "orders", 0, 1)
        self.store.commit("audit", t, 1, 3)
        self.store.commit("billing", "orders", 1, 0)
        self.assertEqual(self.store.committed("billing", t, 0), 1)
        self.assertEqual(self.store.committed("audit", "orders", 1), 3)
        self.assertEqual(self.store.groups(), [
            cano.GroupInfo("audit", "orders", 1, 3, 3, 0),
            cano.GroupInfo("billing", "orders", 0, 1, 3, 2),
            cano.GroupInfo("billing", "orders", 1, 0, 3, 3),
        ])
        with self.assertRaises(cano.OffsetOutOfRange) as cm:
            self.store.commit("billing", "orders", 0, 4)
        self.assertCode(cm, cano.EOFFSET, cano.OffsetOutOfRange)
        with self.assertRaises(cano.NotFound):
            self.store.commit("billing", "nope", 0, 0)
        with self.assertRaises(cano.InvalidArgument):
            self.store.commit("", "orders", 0, 0)
        self.reopen()
        self.assertEqual(self.store.committed("billing", "orders", 0), 1)
        self.assertEqual(len(self.store.groups()), 3)

    def test_reader_at_group_position(self):
        t = self.store.create_topic("q")
        for i in range(5):
            t.append(b"m%d" % i)
        with t.reader(0, group="worker") as r:        # nothing committed
            self.assertEqual(r.position, 0)
            self.assertEqual(r.next().value, b"m0")
            self.assertEqual(r.next().value, b"m1")
            r.commit()
        self.assertEqual(self.store.committed("worker", "q", 0), 2)
        with t.reader(0, group="worker") as r:
            self.assertEqual(r.position, 2)
            self.assertEqual([x.value for x in r], [b"m2", b"m3", b"m4"])
            r.commit(4)
        self.assertEqual(self.store.groups()[0].lag, 1)
        with self.assertRaises(TypeError):
            t.reader(0, offset=0, group="worker")
        with t.reader(0) as r, self.assertRaises(TypeError):
            r.commit()


class TestIdempotent(StoreCase):
    def test_retry_and_gap(self):
        t = self.store.create_topic("idem", partitions=2)
        self.assertEqual(t.append_idempotent(1, 7, 0, [b"a", b"b"]), 0)
        self.assertEqual(t.append_idempotent(1, 7, 2, [b"c"]), 2)
        self.assertEqual(t.append_idempotent(1, 7, 0, [b"a", b"b"]), 0)
        self.assertEqual(t.append_idempotent(1, 7, 2, [b"c"]), 2)
        self.assertEqual(t.stat(1).end_offset, 3)
        with self.assertRaises(cano.SequenceError) as cm:
            t.append_idempotent(1, 7, 10, [b"gap"])
        self.assertCode(cm, cano.ESEQUENCE, cano.SequenceError)
        self.assertEqual(t.stat(1).end_offset, 3)
        self.assertEqual(t.append_idempotent(1, 8, 100, [(b"k", b"d")]), 3)
        self.reopen()
        t = self.store.topic("idem")
        self.assertEqual(t.append_idempotent(1, 7, 2, [b"c"]), 2)
        self.assertEqual(t.append_idempotent(1, 7, 3, [b"e"]), 4)
        self.assertEqual([r.value for r in t.read(1)],
                         [b"a", b"b", b"c", b"d", b"e"])
        with self.assertRaises(cano.InvalidArgument):
            t.append_idempotent(cano.PARTITION_AUTO, 9, 0, [b"x"])


class TestUseAfterClose(StoreCase):
    def test_everything_raises_closed(self):
        t = self.store.create_topic("t")
        t.append(b"x")
        r = t.reader(0)
        self.store.close()
        calls = [
            lambda: self.store.topics(), lambda: self.store.topic("t"),
            lambda: self.store.create_topic("u"), lambda: self.store.sync(),
            lambda: self.store.maintain(), lambda: self.store.groups(),
            lambda: self.store.commit("g", "t", 0, 0),
            lambda: self.store.recovery_report(),
            lambda: t.append(b"y"), lambda: t.read(), lambda: t.stat(),
            lambda: t.config, lambda: t.partitions, lambda: t.reader(0),
            lambda: t.compact(0), lambda: t.partition_for_key(b"k"),
            lambda: r.next(), lambda: r.seek(0), lambda: r.position,
        ]
        for i, call in enumerate(calls):
            with self.subTest(call=i):
                with self.assertRaises(cano.Closed) as cm:
                    call()
                self.assertCode(cm, cano.ECLOSED, cano.Closed)
        self.assertTrue(r.closed)
        r.close()
        self.store.close()


if __name__ == "__main__":
    unittest.main()
