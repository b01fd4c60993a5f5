"""Latest frame wins: a backend slower than the camera drops frames instead of queueing them."""
from __future__ import annotations

import threading
import time

import numpy as np

from night_seg_ros.backends import create_backend
from night_seg_ros.backends.base import Backend
from night_seg_ros.bundle import read_bundle
from night_seg_ros.node.latest_frame import FrameWorker, LatestFrameSlot
from night_seg_ros.pipeline import SegmentationPipeline


class SlowBackend(Backend):
    """Test double for a slow accelerator: the real ONNX Runtime backend plus a fixed sleep per frame."""

    name = 'slow-onnxruntime'

    def __init__(self, inner: Backend, delay: float) -> None:
        super().__init__(inner.height, inner.width)
        self.inner = inner
        self.delay = delay

    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        time.sleep(self.delay)
        return self.inner.infer(rgb)


def test_slot_keeps_only_the_newest_item():
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.take(timeout=0.1) == 2
    assert slot.take(timeout=0.01) is None
    slot.close()
    assert slot.put(3) is False
    assert slot.take(timeout=0.01) is None


def test_slow_pipeline_drops_frames_and_always_works_on_a_recent_one(tiny_bundle):
    bundle = read_bundle(tiny_bundle)
    backend = SlowBackend(create_backend('onnxruntime', bundle), delay=0.05)
    pipeline = SegmentationPipeline(backend, (bundle.input.height, bundle.input.width), bundle.palette)
    frames = 60
    newest = [-1]
    ages: list[int] = []
    handled: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def handle(item: tuple[int, np.ndarray]) -> None:
        index, frame = item
        ages.append(newest[0] - index)  # frames that arrived after this one before it was processed
        pipeline.process(frame)
        handled.append(index)
        if index == frames - 1:
            done.set()

    slot: LatestFrameSlot[tuple[int, np.ndarray]] = LatestFrameSlot()
    worker = FrameWorker(slot, handle, errors.append)
    worker.start()
    frame = np.zeros((120, 160, 3), np.uint8)
    dropped = 0
    for index in range(frames):  # a camera 10x faster than the backend
        newest[0] = index
        dropped += slot.put((index, frame))
        time.sleep(0.005)
    assert done.wait(30)
    worker.stop()

    assert not errors
    assert handled == sorted(handled) and handled[-1] == frames - 1
    assert dropped + len(handled) == frames
    assert dropped > frames // 2
    # A queue would make the last frame wait for all earlier ones (age up to ~frames); the slot bounds the age by
    # about one processing time's worth of frames (0.05 s / 0.005 s = 10).
    assert max(ages) < frames // 2


def test_worker_survives_a_failing_frame():
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    handled: list[int] = []
    errors: list[BaseException] = []

    def handle(item: int) -> None:
        if item == 0:
            raise RuntimeError('broken frame')
        handled.append(item)

    worker = FrameWorker(slot, handle, errors.append)
    worker.start()
    slot.put(0)
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        time.sleep(0.01)
    slot.put(1)
    while not handled and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert [str(error) for error in errors] == ['broken frame']
    assert handled == [1]
