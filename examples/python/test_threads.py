"""Thread tests of the cano Python binding: readers woken by appends from
other threads, closing under a waiting reader, concurrent appends.  Only
correctness is asserted; the time bounds are generous."""

import os
import tempfile
import threading
import unittest

import cano

WAIT_MS = 20000      # a bound that a correct run never comes close to


class ThreadCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="cano-py-")
        self.addCleanup(self._tmp.cleanup)
        self.store = cano.Store(os.path.join(self._tmp.name, "store"))
        self.addCleanup(self.store.close)
        self.t = self.store.create_topic("t", partitions=2)

    def start(self, fn, *args):
        th = threading.Thread(target=fn, args=args, daemon=True)
        th.start()
        self.addCleanup(th.join, WAIT_MS / 1000)
        return th

    def test_reader_woken_by_append(self):
        with self.t.reader(1, offset=cano.OFFSET_LATEST) as r:
            go = threading.Event()

            def producer():
                go.wait()
                self.t.append(b"wake up", key=b"k", partition=1)
            self.start(producer)
            go.set()
            rec = r.next(timeout_ms=WAIT_MS)
        self.assertIsNotNone(rec)
        self.assertEqual((rec.partition, rec.offset, rec.key, rec.value),
                         (1, 0, b"k", b"wake up"))

    def test_reader_waits_forever_until_append(self):
        got = []
        with self.t.reader(0) as r:
            th = self.start(lambda: got.append(r.next(timeout_ms=-1)))
            self.t.append(b"x", partition=0)
            th.join(WAIT_MS / 1000)
        self.assertFalse(th.is_alive())
        self.assertEqual([(g.offset, g.value) for g in got], [(0, b"x")])

    def test_close_reader_from_other_thread(self):
        r = self.t.reader(0)
        outcome = []
        entered = threading.Event()

        def consumer():
            entered.set()
            try:
                outcome.append(r.next(timeout_ms=None))
            except cano.Error as e:
                outcome.append(e)
        th = self.start(consumer)
        entered.wait()
        r.close()
        th.join(WAIT_MS / 1000)
        self.assertFalse(th.is_alive())
        self.assertEqual(len(outcome), 1)
        # Either closed while waiting, or closed before next() began.
        self.assertIsInstance(outcome[0], cano.Closed)
        self.assertEqual(outcome[0].code, cano.ECLOSED)
        self.assertTrue(r.closed)

    def test_close_store_under_waiting_reader(self):
        r = self.t.reader(0)
        outcome = []
        entered = threading.Event()

        def consumer():
            entered.set()
            try:
                outcome.append(r.next(timeout_ms=WAIT_MS))
            except cano.Error as e:
                outcome.append(e)
        th = self.start(consumer)
        entered.wait()
        self.store.close()
        th.join(WAIT_MS / 1000)
        self.assertFalse(th.is_alive())
        self.assertEqual(len(outcome), 1)
        self.assertIsInstance(outcome[0], cano.Closed)
        self.assertTrue(r.closed)

    def test_concurrent_appends(self):
        n_threads, per_thread = 4, 200
        results = [[] for _ in range(n_threads)]

        def producer(i):
            for j in range(per_thread):
                results[i].append(self.t.append(b"%d-%d" % (i, j),
                                                partition=0).offset)
        threads = [self.start(producer, i) for i in range(n_threads)]
        for th in threads:
            th.join(WAIT_MS / 1000)
        offsets = sorted(o for res in results for o in res)
        self.assertEqual(offsets, list(range(n_threads * per_thread)))
        for res in results:                       # per-thread order kept
            self.assertEqual(res, sorted(res))
        recs = self.t.read(0)
        self.assertEqual(len(recs), n_threads * per_thread)
        for i in range(n_threads):
            mine = [r.value for r in recs if r.value.startswith(b"%d-" % i)]
            self.assertEqual(mine, [b"%d-%d" % (i, j)
                                    for j in range(per_thread)])

    def test_tailing_consumer_sees_everything(self):
        total = 300
        got = []

        def consumer():
            with self.t.reader(1) as r:
                while len(got) < total:
                    rec = r.next(timeout_ms=WAIT_MS)
                    if rec is None:
                        return
                    got.append(rec.offset)
        th = self.start(consumer)
        for i in range(0, total, 3):
            self.t.append_batch([b"a", b"b", b"c"], partition=1)
        th.join(WAIT_MS / 1000)
        self.assertEqual(got, list(range(total)))


if __name__ == "__main__":
    unittest.main()
