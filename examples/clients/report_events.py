#!/usr/bin/env python3
"""Reports an application's events to logward's `http` input, asynchronously.

- `report(event)` never blocks the application: events go into a bounded buffer (1,000 events by
  default); when it is full the event is refused (`report` returns False) and counted in `dropped`.
- A background thread sends batches of up to 100 events as gzip NDJSON, at least once a second.
- A critical event (`report(event, critical=True)`) wakes the sender at once: it goes out with whatever
  is buffered, without waiting for a full batch.
- A batch that is not accepted (connection refused or cut, 429, 503, 5xx) is sent again after an
  exponential backoff with jitter (0.2 s doubling to 30 s; a `Retry-After` is honoured). Only a 2xx
  answer, which logward gives once the events are in its queue, removes a batch.
- Each event gets an `event.id` (a UUID) unless it has one: with `id_field: event.id` on the input, a
  batch resent after a lost answer overwrites itself in Elasticsearch instead of being stored twice.

Standard library only. Run it to send test events:

    python3 report_events.py --url http://127.0.0.1:8080/events/my-service --count 1000
"""

import argparse
import collections
import gzip
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid


class EventReporter:
    def __init__(self, url, batch_size=100, buffer_size=1000, flush_interval=1.0, token=None,
                 max_backoff=30.0, timeout=30.0):
        self.url = url
        self.batch_size = batch_size
        self.buffer_size = buffer_size
        self.flush_interval = flush_interval
        self.token = token
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._buffer = collections.deque()
        self._lock = threading.Condition()
        self._urgent = False
        self._closing = False
        self._in_flight = 0
        self.stats = {"sent": 0, "dropped": 0, "batches": 0, "retries": 0, "urgent_batches": 0}
        self._thread = threading.Thread(target=self._run, name="event-reporter", daemon=True)
        self._thread.start()

    def report(self, event, critical=False, wait=0.0):
        """Queues an event. When the buffer is full, waits up to `wait` seconds for room (0: not at
        all), then returns False and counts the event as dropped."""
        event = dict(event)
        event.setdefault("event", {})
        if isinstance(event["event"], dict):
            event["event"].setdefault("id", str(uuid.uuid4()))
        with self._lock:
            deadline = time.monotonic() + wait
            while len(self._buffer) + self._in_flight >= self.buffer_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stats["dropped"] += 1
                    return False
                self._lock.wait(left)
            self._buffer.append(event)
            if critical:
                self._urgent = True
            if critical or len(self._buffer) >= self.batch_size:
                self._lock.notify_all()
        return True

    def close(self, timeout=60.0):
        """Sends what is buffered (retrying as usual) for at most `timeout` seconds."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _take_batch(self):
        with self._lock:
            deadline = time.monotonic() + self.flush_interval
            while (len(self._buffer) < self.batch_size and not self._urgent
                   and not self._closing):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            urgent = self._urgent
            self._urgent = False
            n = min(self.batch_size, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(n)]
            self._in_flight = n
            done = self._closing and not self._buffer and not batch
            return batch, urgent, done

    def _run(self):
        while True:
            batch, urgent, done = self._take_batch()
            if done:
                return
            if not batch:
                continue
            self._send(batch)
            with self._lock:
                self._in_flight = 0
                self._lock.notify_all()
                self.stats["sent"] += len(batch)
                self.stats["batches"] += 1
                if urgent and len(batch) < self.batch_size:
                    self.stats["urgent_batches"] += 1

    def _send(self, batch):
        body = gzip.compress("".join(json.dumps(e) + "\n" for e in batch).encode("utf-8"))
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        backoff = 0.2
        while True:
            retry_after = None
            try:
                request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    answer.read()
                    return
            except urllib.error.HTTPError as e:
                if e.code < 500 and e.code not in (408, 429):
                    # The input refused the batch for good (bad credentials, too large): say so.
                    print(f"batch of {len(batch)} events refused: {e.code} {e.read()[:300]!r}",
                          file=sys.stderr)
                    return
                retry_after = e.headers.get("Retry-After")
                reason = f"HTTP {e.code}"
            except (urllib.error.URLError, OSError) as e:
                reason = str(getattr(e, "reason", e))
            self.stats["retries"] += 1
            pause = random.uniform(backoff / 2, backoff)
            if retry_after and retry_after.isdigit():
                pause = max(pause, float(retry_after))
            print(f"retrying a batch of {len(batch)} events in {pause:.1f}s ({reason})",
                  file=sys.stderr, flush=True)
            time.sleep(pause)
            backoff = min(backoff * 2, self.max_backoff)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--critical-every", type=int, default=250,
                        help="every Nth event is critical (0: none)")
    parser.add_argument("--token", default=None)
    parser.add_argument("--close-timeout", type=float, default=300.0)
    parser.add_argument("--wait-for-room", type=float, default=0.0,
                        help="seconds report() may wait for room in a full buffer (0: drop at once)")
    args = parser.parse_args()
    reporter = EventReporter(args.url, token=args.token)
    for n in range(args.count):
        critical = args.critical_every > 0 and n % args.critical_every == args.critical_every - 1
        event = {"message": f"event {n}", "log": {"level": "error" if critical else "info"},
                 "event": {"id": f"report-{n}", "sequence": n}}
        reporter.report(event, critical=critical, wait=args.wait_for_room)
    finished = reporter.close(args.close_timeout)
    print(json.dumps(dict(reporter.stats, finished=finished)))
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
