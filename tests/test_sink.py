"""The test harness's HTTP sink takes a burst of connections at once, as the runs of many due
schedules make them, without stalling any (a stalled connection delays or fails a run)."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from .sink import HttpSink


def test_the_sink_answers_a_burst_of_50_connections_without_stalling_one() -> None:
    with HttpSink() as sink:
        def post(i: int) -> float:
            began = time.monotonic()
            request = urllib.request.Request(sink.url + "/fired", data=json.dumps({"i": i}).encode(), method="POST")
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
            return time.monotonic() - began

        with ThreadPoolExecutor(50) as pool:
            for _ in range(3):
                took = list(pool.map(post, range(50)))
                # The kernel retries a connection its full listen queue dropped after 1 s: with a
                # short queue (the default backlog of 5) 45 of the 50 stall. Some may stall for
                # other reasons (a SYN meeting a TIME_WAIT socket of an earlier test on a reused
                # port; a loaded machine: more than 5 were seen once), so up to 15.
                slow = [t for t in took if t >= 0.9]
                assert len(slow) <= 15, sorted(took)[-20:]
        assert len(sink.received) == 150
