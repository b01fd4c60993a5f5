"""Offline processing of recorded drives: a camera topic of a rosbag2 through the node's pipeline into a new bag.

Three stages overlap, joined by bounded queues so memory stays flat on long drives:

  reader thread:  read messages -> deserialise -> decode to RGB            (malformed ones skipped and counted)
  calling thread: SegmentationPipeline.infer (the node's per-frame path, so the pixels equal the node's)
  writer thread:  render labels / color / overlay / confidence -> serialise -> write; MP4, contact sheet, mIoU

Every output message carries its input's header unchanged and the input's bag timestamp. When the bag has a ground
truth labels topic (mono8 Cityscapes train ids, matched to camera frames by header stamp), the report has the mIoU.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from night_seg_ros.classes import CITYSCAPES_CLASSES
from night_seg_ros.codec import ImageDecodeError, image_to_array, stamp_ns
from night_seg_ros.drives import bag_io
from night_seg_ros.drives.frames import evenly_spaced
from night_seg_ros.drives.preview import Mp4Writer, contact_sheet
from night_seg_ros.files import atomic_output, distinct_outputs, output_path
from night_seg_ros.metrics import ConfusionMatrix
from night_seg_ros.pipeline import Inference, SegmentationPipeline
from night_seg_ros.render import colorize, write_png
from night_seg_ros.vocabulary import OUTPUTS

DEFAULT_GT_TOPIC = '/ground_truth/labels'
DEFAULT_OUTPUT_PREFIX = '/seg'
_END = object()
_POLL_S = 0.2


@dataclass(frozen=True)
class BagOptions:
    """What `process_bag` reads and writes besides the output bag.

    topic: camera topic (Image or CompressedImage); None = the bag's only one. gt_topic: mono8 ground-truth labels
    (used when present; '' = none). output_prefix: output topics are prefix/labels, /color, /overlay, /confidence.
    storage: output bag storage, 'mcap' or 'sqlite3'. mp4: overlay video path. sheet: contact sheet PNG path,
    sheet_rows frames sampled evenly. queue_size: frames in flight between two stages. progress: show a progress bar.
    force: replace an existing output bag, video or sheet (once the new one is complete).
    """

    topic: str | None = None
    gt_topic: str = DEFAULT_GT_TOPIC
    output_prefix: str = DEFAULT_OUTPUT_PREFIX
    storage: str = 'mcap'
    mp4: Path | None = None
    mp4_fps: float = 10.0
    sheet: Path | None = None
    sheet_rows: int = 6
    queue_size: int = 4
    progress: bool = True
    force: bool = False


@dataclass
class Skipped:
    """A message that was not processed: its order in the topic, topic, bag timestamp (ns) and why."""

    index: int
    topic: str
    timestamp: int
    reason: str


@dataclass
class BagReport:
    """What `process_bag` did: counts, times (seconds), and mIoU (0-1) when there was ground truth."""

    input_topic: str
    frames: int = 0
    processed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    infer_seconds: float = 0.0
    gt_frames: int = 0
    miou: float | None = None
    iou: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Processed frames per second of wall time, everything included."""
        return self.processed / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f'{self.processed}/{self.frames} frames of {self.input_topic} processed in {self.seconds:.1f} s '
                 f'({self.fps:.2f} frames/s; inference alone {self.infer_seconds:.1f} s)']
        if self.skipped:
            lines.append(f'skipped {len(self.skipped)} malformed message(s):')
            lines += [f'  #{s.index} {s.topic} at {s.timestamp}: {s.reason}' for s in self.skipped[:10]]
            if len(self.skipped) > 10:
                lines.append(f'  ... and {len(self.skipped) - 10} more')
        if self.miou is not None:
            lines.append(f'mIoU {100 * self.miou:.1f} % over {self.gt_frames} frames with ground truth')
        lines += [f'wrote {path} ({what})' for what, path in self.outputs.items()]
        return '\n'.join(lines)


@dataclass
class _Frame:
    index: int
    timestamp: int
    header: Any
    rgb: np.ndarray
    inference: Inference | None = None


@dataclass
class _Truth:
    stamp: int
    labels: np.ndarray


class _Stages:
    """Shared state of the three threads: a stop flag, the first error, and queue puts that give up on stop."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self.stop.set()

    def put(self, target: queue.Queue, item: object) -> bool:
        """Put `item` unless the stages are stopping; return whether it was put."""
        while not self.stop.is_set():
            try:
                target.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def get(self, source: queue.Queue) -> object:
        """The next item, or _END when the stages are stopping."""
        while not self.stop.is_set():
            try:
                return source.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return _END

    def thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        def run() -> None:
            try:
                target()
            except BaseException as error:  # noqa: BLE001 - handed to the calling thread, which raises it
                self.fail(error)

        worker = threading.Thread(target=run, name=name, daemon=True)
        worker.start()
        return worker


def process_bag(in_path: str | Path, out_path: str | Path, pipeline: SegmentationPipeline,
                options: BagOptions = BagOptions()) -> BagReport:
    """Segment the camera topic of bag `in_path` into the new bag `out_path`; see the module docstring.

    The bag, video and contact sheet are written aside and moved into place when complete (`files.atomic_output`): a
    failure or Ctrl-C leaves none of them. Raises what `check_job` raises.
    """
    outputs = _outputs(in_path, out_path, options)
    with bag_io.open_reader(in_path) as reader, ExitStack() as staging:
        camera, truth = _topics(reader, options)
        staged = {what: staging.enter_context(atomic_output(path, options.force, what, inputs=[in_path]))
                  for what, path in outputs.items()}
        writer = bag_io.open_writer(staged['output bag'], options.storage)
        report = BagReport(input_topic=camera.topic, frames=camera.msgcount)
        try:
            _run(reader, camera, truth, writer, pipeline,
                 replace(options, mp4=staged.get('overlay video'), sheet=staged.get('contact sheet')), report)
        finally:
            writer.close()
        written = {'output bag', *report.outputs}  # the video and sheet only when a frame made them
        report.outputs = {what: str(path) for what, path in outputs.items() if what in written}
    return report


def check_job(in_path: str | Path, out_path: str | Path, options: BagOptions = BagOptions()) -> str:
    """Check what `process_bag` would do without reading a message (before a model is loaded, so no result is lost
    to a bad path); returns the camera topic it would read.

    bag_io.BagError for an unreadable bag or a missing, ambiguous or mistyped topic; files.OutputError for outputs
    that exist (without options.force), overlap, hit the input or cannot be written.
    """
    _outputs(in_path, out_path, options)
    with bag_io.open_reader(in_path) as reader:
        return _topics(reader, options)[0].topic


def _outputs(in_path: str | Path, out_path: str | Path, options: BagOptions) -> dict[str, Path]:
    """What -> path of every output asked for, each checked by files.output_path."""
    outputs = {'output bag': Path(out_path), 'overlay video': options.mp4, 'contact sheet': options.sheet}
    outputs = {what: Path(path) for what, path in outputs.items() if path is not None}
    distinct_outputs(outputs)
    for what, path in outputs.items():
        output_path(path, options.force, what, inputs=[in_path])
    return outputs


def _topics(reader: Any, options: BagOptions) -> tuple[Any, Any]:
    """The camera connection and the ground-truth one (None when the bag has none) of an open bag."""
    camera = bag_io.find_connection(reader, options.topic, bag_io.IMAGE_TYPES, exclude=(options.gt_topic,))
    truth = next((c for c in reader.connections if options.gt_topic and c.topic == options.gt_topic), None)
    if truth is not None and truth.msgtype != bag_io.IMAGE:
        raise bag_io.BagError(f'ground-truth topic {truth.topic} is {truth.msgtype}; allowed: {bag_io.IMAGE} (mono8 '
                              "train ids); name another with --gt-topic, or none with --gt-topic ''")
    return camera, truth


def _run(reader: Any, camera: Any, truth: Any, writer: Any, pipeline: SegmentationPipeline, options: BagOptions,
         report: BagReport) -> None:
    stages = _Stages()
    decoded: queue.Queue = queue.Queue(options.queue_size)
    inferred: queue.Queue = queue.Queue(options.queue_size)
    prefix = options.output_prefix.rstrip('/')
    topics = {name: bag_io.add_topic(writer, f'{prefix}/{name}', bag_io.IMAGE) for name in OUTPUTS}
    sink = _Sink(writer, topics, pipeline, options, report, truth is not None)
    start = time.perf_counter()

    def read() -> None:
        connections = [camera] + ([truth] if truth is not None else [])
        index = 0
        for connection, timestamp, data in reader.messages(connections=connections):
            if stages.stop.is_set():
                return
            if connection is camera:
                frame = _decode_frame(index, connection, timestamp, data, report)
                index += 1
                if frame is not None and not stages.put(decoded, frame):
                    return
            else:
                labels = _read_truth(connection, timestamp, data, report)
                if labels is not None and not stages.put(decoded, labels):
                    return
        stages.put(decoded, _END)

    def write() -> None:
        while (item := stages.get(inferred)) is not _END:
            sink.take(item)
        sink.finish()

    threads = [stages.thread(read, 'bag-reader'), stages.thread(write, 'bag-writer')]
    try:
        while (item := stages.get(decoded)) is not _END:
            if isinstance(item, _Frame):
                item.inference = pipeline.infer(item.rgb)
                report.infer_seconds += item.inference.seconds
            if not stages.put(inferred, item):
                break
        stages.put(inferred, _END)
        threads[1].join()
    except BaseException as error:
        stages.fail(error)
        raise
    finally:
        stages.stop.set()
        for thread in threads:
            thread.join()
    report.seconds = time.perf_counter() - start
    if stages.error is not None:
        raise stages.error


def _decode_frame(index: int, connection: Any, timestamp: int, data: bytes, report: BagReport) -> _Frame | None:
    """The decoded frame of one camera message, or None (recorded in report.skipped) when it is malformed."""
    try:
        msg = bag_io.deserialize(data, connection.msgtype)
        return _Frame(index, timestamp, msg.header, bag_io.decode_rgb(msg, connection.msgtype))
    except (bag_io.BagError, ImageDecodeError) as error:
        report.skipped.append(Skipped(index, connection.topic, timestamp, str(error)))
        return None


def _read_truth(connection: Any, timestamp: int, data: bytes, report: BagReport) -> _Truth | None:
    """The labels of one ground-truth message, or None (recorded in report.skipped) when it is malformed."""
    try:
        msg = bag_io.deserialize(data, connection.msgtype)
        if msg.encoding != 'mono8':
            raise ImageDecodeError(f'ground truth encoding {msg.encoding!r}; allowed: mono8')
        return _Truth(stamp_ns(msg.header), image_to_array(msg))
    except (bag_io.BagError, ImageDecodeError) as error:
        report.skipped.append(Skipped(-1, connection.topic, timestamp, str(error)))
        return None


class _Sink:
    """The writer stage: renders and writes each frame's outputs, and feeds the MP4, contact sheet and mIoU."""

    def __init__(self, writer: Any, topics: dict[str, Any], pipeline: SegmentationPipeline, options: BagOptions,
                 report: BagReport, with_truth: bool) -> None:
        self.writer, self.topics, self.pipeline, self.options, self.report = writer, topics, pipeline, options, report
        self.with_truth = with_truth
        self.confusion = ConfusionMatrix(len(CITYSCAPES_CLASSES))
        self.predictions: dict[int, np.ndarray] = {}   # header stamp -> labels waiting for their ground truth
        self.truths: dict[int, np.ndarray] = {}        # header stamp -> ground truth waiting for its prediction
        self.video = Mp4Writer(options.mp4, options.mp4_fps) if options.mp4 else None
        self.sheet_indices = set(evenly_spaced(report.frames, options.sheet_rows))
        self.sheet: dict[int, list[tuple[str, np.ndarray]]] = {}
        self.progress = _progress(report.frames, options.progress)

    def take(self, item: _Frame | _Truth) -> None:
        if isinstance(item, _Truth):
            self._match(item.stamp, truth=item.labels)
            return
        outputs = {name: self.pipeline.render(name, item.inference) for name in OUTPUTS}
        for name, array in outputs.items():
            msg = bag_io.image_message(array, self.pipeline.output_encoding(name), item.header)
            self.writer.write(self.topics[name], item.timestamp, bag_io.serialize(msg, bag_io.IMAGE))
        stamp = stamp_ns(item.header)
        if self.video is not None:
            self.video.write(outputs['overlay'], stamp)
        if self.options.sheet and item.index in self.sheet_indices:
            self.sheet[stamp] = [(f'#{item.index} camera', cv2.cvtColor(item.rgb, cv2.COLOR_RGB2BGR)),
                                 ('overlay', outputs['overlay']),
                                 ('prediction', cv2.cvtColor(outputs['color'], cv2.COLOR_RGB2BGR))]
        if self.with_truth:
            self._match(stamp, prediction=outputs['labels'])
        self.report.processed += 1
        self.progress(1)

    def _match(self, stamp: int, prediction: np.ndarray | None = None, truth: np.ndarray | None = None) -> None:
        """Count a frame's prediction against its ground truth once both have been seen."""
        if prediction is None:
            prediction = self.predictions.pop(stamp, None)
        if truth is None:
            truth = self.truths.pop(stamp, None)
        if prediction is None:
            self.truths[stamp] = truth
            return
        if truth is None:
            self.predictions[stamp] = prediction
            return
        if truth.shape != prediction.shape:
            self.report.skipped.append(Skipped(-1, 'ground truth', stamp, f'size {truth.shape[::-1]} differs from '
                                                                          f'the camera\'s {prediction.shape[::-1]}'))
            return
        try:
            self.confusion.update(prediction, truth)
        except ValueError as error:  # ids that are no Cityscapes train id (labelIds instead of trainIds, say)
            raise bag_io.BagError(f'ground truth at stamp {stamp} of {self.options.gt_topic}: {error}') from error
        self.report.gt_frames += 1
        if stamp in self.sheet:
            self.sheet[stamp].append(('ground truth', cv2.cvtColor(colorize(truth, self.pipeline.renderer.lut_rgb),
                                                                   cv2.COLOR_RGB2BGR)))

    def finish(self) -> None:
        self.progress(0, close=True)
        if self.video is not None:
            self.video.close()
            if self.video.frames_written:  # no frame, no file
                self.report.outputs['overlay video'] = str(self.options.mp4)
        if self.options.sheet and self.sheet:
            rows = [self.sheet[stamp] for stamp in sorted(self.sheet)]
            self.report.outputs['contact sheet'] = str(write_png(self.options.sheet, contact_sheet(rows)))
        if self.report.gt_frames:
            self.report.miou = self.confusion.miou()
            self.report.iou = self.confusion.defined_iou(CITYSCAPES_CLASSES)


def _progress(total: int, enabled: bool) -> Callable[..., None]:
    """progress(n, close=False): a tqdm bar when tqdm is installed (a line every few seconds where stderr is a file
    or a pipe: progress.progress_stream), else a line every 10 %; nothing when disabled."""
    if not enabled:
        return lambda _n, close=False: None
    try:
        from tqdm import tqdm
    except ImportError:
        done = [0]

        def plain(n: int, close: bool = False) -> None:
            done[0] += n
            if n and total and (done[0] * 10 // total) != ((done[0] - n) * 10 // total):
                print(f'{done[0]}/{total} frames', flush=True)

        return plain
    from night_seg_ros.progress import progress_stream

    bar = tqdm(total=total, unit='frame', desc='segmenting', file=progress_stream())

    def update(n: int, close: bool = False) -> None:
        bar.update(n)
        if close:
            bar.close()

    return update
