"""Latest frame wins: a one-slot mailbox between the subscription callback and one worker thread.

The callback only stores the newest message; the worker takes it when it is free. A slow model therefore drops frames
(counted) instead of building a backlog, so latency stays bounded by about one processing time.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar('Item')


class LatestFrameSlot(Generic[Item]):
    """Holds at most one pending item; `put` replaces an item the worker has not taken yet."""

    def __init__(self) -> None:
        """Start empty and open."""
        self._condition = threading.Condition()
        self._item: Item | None = None
        self._closed = False

    def put(self, item: Item) -> bool:
        """Store `item` as the newest; return True when it replaced (dropped) an untaken one."""
        with self._condition:
            dropped = self._item is not None
            self._item = item
            self._condition.notify()
        return dropped

    def take(self, timeout: float | None = None) -> Item | None:
        """Wait up to `timeout` seconds for an item and remove it; None on timeout or when closed."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> None:
        """Wake and release any waiting `take`; later takes return None."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


class FrameWorker(Generic[Item]):
    """One thread that handles the slot's newest item at a time with `handle`; exceptions go to `on_error`."""

    def __init__(self, slot: LatestFrameSlot[Item], handle: Callable[[Item], None],
                 on_error: Callable[[BaseException], None], name: str = 'frame-worker') -> None:
        """Prepare (not start) the thread."""
        self.slot = slot
        self._handle = handle
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self.slot.take(timeout=0.2)
            if item is None:
                continue
            try:
                self._handle(item)
            except Exception as error:  # noqa: BLE001 - one bad frame must never end the worker
                self._on_error(error)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish its current item and end; wait up to `timeout` seconds."""
        self._stop.set()
        self.slot.close()
        if self._thread.is_alive():
            self._thread.join(timeout)
