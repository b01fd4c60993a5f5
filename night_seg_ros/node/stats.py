"""Counters, rates and latency percentiles of the node, thread-safe, summarised for diagnostics."""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

COUNTERS = ('received', 'processed', 'dropped', 'skipped_no_subscribers', 'bad_input', 'errors',
            'latency_from_arrival')


def frame_latency(now_ns: int, stamp_ns: int, processing: float) -> tuple[float, bool]:
    """(seconds from a frame's header stamp to `now_ns` on the ROS clock, True), or (`processing`: arrival to publish
    on the steady clock, False) where the stamp cannot be compared with the clock: no stamp, a sim clock not running
    yet (`use_sim_time` before /clock: now is 0), or a clock behind the stamp (a jump, a camera on another clock).
    Never negative."""
    if stamp_ns <= 0 or now_ns <= 0 or now_ns < stamp_ns:
        return max(processing, 0.0), False
    return (now_ns - stamp_ns) / 1e9, True


class FrameStats:
    """Totals since start, rates over the last window, latency percentiles over the last `window_frames` frames.

    Latencies are in seconds: `latency` from the input header stamp to publish (ROS clock; arrival to publish where
    the stamp cannot be compared with the clock, counted as `latency_from_arrival`: `frame_latency`), `processing`
    from the message's arrival to publish, `infer` of the backend alone.
    """

    def __init__(self, window_frames: int = 300) -> None:
        """Start with zero counts and an empty latency window."""
        self._lock = threading.Lock()
        self.totals = dict.fromkeys(COUNTERS, 0)
        self._window_start = time.monotonic()
        self._window_counts = dict.fromkeys(COUNTERS, 0)
        self._samples = {key: deque(maxlen=window_frames) for key in ('latency', 'processing', 'infer')}

    def count(self, counter: str, amount: int = 1) -> None:
        """Add `amount` to a counter (one of COUNTERS)."""
        with self._lock:
            self.totals[counter] += amount
            self._window_counts[counter] += amount

    def record(self, latency: float, processing: float, infer: float) -> None:
        """Record one published frame's latencies (seconds)."""
        with self._lock:
            for key, value in (('latency', latency), ('processing', processing), ('infer', infer)):
                self._samples[key].append(value)

    def summary(self) -> dict[str, float | int]:
        """Totals, rates (Hz) since the last summary, and p50/p95 latencies (ms); starts a new rate window."""
        now = time.monotonic()
        with self._lock:
            elapsed = max(now - self._window_start, 1e-9)
            result: dict[str, float | int] = dict(self.totals)
            result['input_rate_hz'] = self._window_counts['received'] / elapsed
            result['processed_rate_hz'] = self._window_counts['processed'] / elapsed
            result['window_bad_input'] = self._window_counts['bad_input']
            result['window_errors'] = self._window_counts['errors']
            for key, samples in self._samples.items():
                if samples:
                    p50, p95 = np.percentile(np.fromiter(samples, float), [50, 95]) * 1000.0
                    result[f'{key}_p50_ms'] = float(p50)
                    result[f'{key}_p95_ms'] = float(p95)
            self._window_start = now
            self._window_counts = dict.fromkeys(COUNTERS, 0)
        return result
