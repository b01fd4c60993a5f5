"""The one-command demo (`make demo`): a synthetic night drive replayed into seg_node over real DDS.

1. generates the synthetic night drive bag once (out/drive/night_drive, reused by later runs);
2. starts seg_node with the bundled demo model as its own process (outputs under /seg, input /camera/image_raw);
3. replays the drive into it in real time with `night-seg replay` (a third process);
4. records the node's outputs and diagnostics here (rclpy + rosbags) into out/demo/segmented_drive;
5. writes out/demo/overlay.mp4, contact_sheet.png and summary.json / summary.txt: frames in and out, frames the node
   dropped (latest frame wins), latency from the camera frame reaching this process to its labels reaching it
   (p50/p95), and mIoU of the node's labels against the drive's ground truth.

Everything shown is synthetic (a procedurally generated street, a model trained on such streets only).
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from night_seg_ros.codec import image_to_array, stamp_ns
from night_seg_ros.drives import bag_io
from night_seg_ros.drives.preview import Mp4Writer, contact_sheet
from night_seg_ros.metrics import ConfusionMatrix
from night_seg_ros.progress import progress_stream
from night_seg_ros.render import colorize, palette_lut, write_png
from night_seg_ros.vocabulary import OUTPUTS
from night_seg_training.synthetic import drive

ROOT = Path(__file__).resolve().parent.parent

NAMESPACE = '/seg'
OUTPUT_TOPICS = {f'{NAMESPACE}/{name}': bag_io.IMAGE for name in OUTPUTS}
OUTPUT_TOPICS['/diagnostics'] = 'diagnostic_msgs/msg/DiagnosticArray'
SHEET_ROWS = 6


def ensure_drive(path: Path) -> Path:
    """The drive bag at `path`, generated first if it is not there yet."""
    if (path / 'metadata.yaml').is_file():
        print(f'[demo] night drive: {path} (already generated)', flush=True)
        return path
    print(f'[demo] generating the synthetic night drive into {path} (about a minute)', flush=True)
    return drive.write_drive_bag(path)


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C a child process, kill it if it does not end within 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def run_live(drive_bag: Path, out: Path, rate: float) -> dict[int, int]:
    """Start seg_node, replay the drive into it and record its outputs into out/segmented_drive.

    Returns header stamp (ns) -> arrival time (ns, this process's ROS clock) of each camera frame seen here.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from sensor_msgs.msg import Image

    from night_seg_ros.dds import use_large_image_profile
    from night_seg_ros.drives.recorder import BagRecorder
    from night_seg_ros.node_process import NodeProcess, console_script

    use_large_image_profile()
    # The bundled demo model (no model parameter), outputs in NAMESPACE, input remapped to the drive's camera.
    seg_node = NodeProcess(out, 'backend:=onnxruntime', 'diagnostics_period:=1.0', namespace=NAMESPACE,
                           remaps=[f'image:={drive.IMAGE_TOPIC}'])
    replay = None
    rclpy.init()
    recorder = writer = None
    arrivals: dict[int, int] = {}
    try:
        print('[demo] starting seg_node with the bundled demo model ...', flush=True)
        seg_node.wait_ready(timeout=120.0)
        writer = bag_io.open_writer(out / 'segmented_drive')
        recorder = BagRecorder(writer, OUTPUT_TOPICS, name='demo_recorder')

        def seen(data: bytes) -> None:
            stamp = stamp_ns(bag_io.deserialize(data, bag_io.IMAGE).header)
            arrivals[stamp] = recorder.get_clock().now().nanoseconds

        recorder.create_subscription(Image, drive.IMAGE_TOPIC, seen, 10, raw=True)
        deadline = time.monotonic() + 20.0
        while recorder.count_publishers(f'{NAMESPACE}/labels') == 0 and time.monotonic() < deadline:
            rclpy.spin_once(recorder, timeout_sec=0.1)
        print(f'[demo] replaying {drive_bag} into seg_node at {rate:g}x over DDS, recording its outputs ...',
              flush=True)
        replay = subprocess.Popen([console_script('night-seg'), 'replay', str(drive_bag), '--rate', str(rate), '--wait',
                                   '20', '--topics', drive.IMAGE_TOPIC, drive.CAMERA_INFO_TOPIC],
                                  stdout=(out / 'replay.log').open('w'), stderr=subprocess.STDOUT)
        tail_end = None
        while tail_end is None or time.monotonic() < tail_end:
            rclpy.spin_once(recorder, timeout_sec=0.05)
            if tail_end is None and replay.poll() is not None:
                tail_end = time.monotonic() + 3.0  # the last frames still in flight, and one more diagnostics
    except (KeyboardInterrupt, ExternalShutdownException):
        print('[demo] interrupted', flush=True)
        raise
    finally:
        for process in (replay, seg_node.process):
            if process is not None:
                stop(process)
        seg_node.kill()  # closes its log; the process has ended by now
        if recorder is not None:
            recorder.destroy_node()
        if writer is not None:
            writer.close()
        rclpy.try_shutdown()
    return arrivals


def read_topic(bag: Path, topic: str) -> list[tuple[int, object]]:
    """(bag timestamp ns, deserialised message) of every message of `topic`, in bag order."""
    with bag_io.open_reader(bag) as reader:
        connections = [conn for conn in reader.connections if conn.topic == topic]
        return [(timestamp, bag_io.deserialize(data, conn.msgtype))
                for conn, timestamp, data in reader.messages(connections=connections)]


def summarise(drive_bag: Path, out: Path, arrivals: dict[int, int]) -> dict:
    """Overlay MP4, contact sheet and summary numbers from the recorded outputs and the drive's ground truth."""
    recorded = out / 'segmented_drive'
    labels = {stamp_ns(msg.header): (timestamp, image_to_array(msg))
              for timestamp, msg in read_topic(recorded, f'{NAMESPACE}/labels')}
    overlays = {stamp_ns(msg.header): image_to_array(msg)
                for _, msg in read_topic(recorded, f'{NAMESPACE}/overlay')}
    truth = {stamp_ns(msg.header): image_to_array(msg)
             for _, msg in read_topic(drive_bag, drive.GROUND_TRUTH_TOPIC)}
    confusion = ConfusionMatrix(len(CITYSCAPES_CLASSES))
    for stamp, (_, predicted) in labels.items():
        if stamp in truth:
            confusion.update(predicted, truth[stamp])

    video = Mp4Writer(out / 'overlay.mp4', drive.DriveSpec().rate_hz)
    for stamp in sorted(overlays):
        video.write(overlays[stamp], stamp)
    video.close()

    lut = palette_lut(CITYSCAPES_PALETTE)
    picked = sorted(labels)[::max(1, len(labels) // SHEET_ROWS)][:SHEET_ROWS]
    cameras = {stamp_ns(msg.header): image_to_array(msg) for _, msg in read_topic(drive_bag,
                                                                                              drive.IMAGE_TOPIC)
               if stamp_ns(msg.header) in picked}
    rows = []
    for stamp in picked:
        seconds = (stamp - drive.START_STAMP_NS) / 1e9
        rows.append([(f't={seconds:.1f}s camera', cameras[stamp]), ('seg_node overlay', overlays[stamp]),
                     ('seg_node labels', colorize(labels[stamp][1], lut)[:, :, ::-1]),
                     ('ground truth', colorize(truth[stamp], lut)[:, :, ::-1])])
    if rows:
        write_png(out / 'contact_sheet.png', contact_sheet(rows))

    latencies = [(labels[stamp][0] - arrivals[stamp]) / 1e6 for stamp in labels if stamp in arrivals]
    diagnostics = read_topic(recorded, '/diagnostics')
    node = {kv.key: kv.value for kv in diagnostics[-1][1].status[0].values} if diagnostics else {}
    frames_in = drive.DriveSpec().frames
    summary = {
        'synthetic': True,
        'frames_replayed': frames_in,
        'frames_received_by_node': int(node.get('received', 0)),
        'frames_out': len(labels),
        'frames_dropped_by_node': int(node.get('dropped', 0)),
        'bad_input': int(node.get('bad_input', 0)),
        'latency_ms_p50': float(np.percentile(latencies, 50)) if latencies else None,
        'latency_ms_p95': float(np.percentile(latencies, 95)) if latencies else None,
        'node_processing_ms_p50': float(node['processing_p50_ms']) if 'processing_p50_ms' in node else None,
        'node_processing_ms_p95': float(node['processing_p95_ms']) if 'processing_p95_ms' in node else None,
        'node_infer_ms_p50': float(node['infer_p50_ms']) if 'infer_p50_ms' in node else None,
        'backend': node.get('backend'),
        'miou_percent': round(100 * confusion.miou(), 1) if labels else None,
        'miou_frames': sum(stamp in truth for stamp in labels),
        'iou_percent': {name: round(100 * value, 1)
                        for name, value in confusion.defined_iou(CITYSCAPES_CLASSES).items()},
    }
    return summary


def report(summary: dict, out: Path) -> str:
    """The summary as text lines."""
    def ms(key: str) -> str:
        return 'n/a' if summary[key] is None else f'{summary[key]:.0f} ms'

    return '\n'.join([
        'night_seg_ros demo: a SYNTHETIC night drive (procedurally generated street, demo model trained on synthetic '
        'streets only)',
        f'  frames replayed (10 s at 10 Hz):  {summary["frames_replayed"]}',
        f'  frames received by seg_node:     {summary["frames_received_by_node"]}',
        f'  frames segmented (out):          {summary["frames_out"]}',
        f'  frames dropped by seg_node:      {summary["frames_dropped_by_node"]}  (latest frame wins: the model is '
        'slower than the camera on this CPU)',
        f'  latency camera -> labels:        p50 {ms("latency_ms_p50")}, p95 {ms("latency_ms_p95")}  (measured '
        'across processes over DDS)',
        f'  seg_node processing:             p50 {ms("node_processing_ms_p50")}, p95 {ms("node_processing_ms_p95")}'
        f'  (backend {summary["backend"]})',
        f'  mIoU vs ground truth:            {summary["miou_percent"]} % over {summary["miou_frames"]} frames',
        '',
        f'Look at:  {out / "overlay.mp4"}        the node\'s overlay, in the drive\'s timing',
        f'          {out / "contact_sheet.png"}  camera | overlay | labels | ground truth for sampled frames',
        f'          {out / "segmented_drive"}    output bag (labels, color, overlay, confidence, diagnostics)',
        f'          {out / "summary.json"}       these numbers and per-class IoU; seg_node_seg.log, replay.log'])


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit 1 with the reason when a step fails."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', type=Path, default=ROOT / 'out' / 'demo', help='output folder (out/demo)')
    parser.add_argument('--drive', type=Path, default=ROOT / 'out' / 'drive' / 'night_drive',
                        help='drive bag, generated when missing (out/drive/night_drive)')
    parser.add_argument('--rate', type=float, default=1.0, help='replay speed factor (1.0 = real time)')
    args = parser.parse_args(argv)
    start = time.monotonic()
    sys.stderr = progress_stream(sys.stderr)  # the drive generator's bar: a line every few seconds in a log or pipe
    try:
        drive_bag = ensure_drive(args.drive)
        shutil.rmtree(args.out, ignore_errors=True)
        args.out.mkdir(parents=True)
        arrivals = run_live(drive_bag, args.out, args.rate)
        summary = summarise(drive_bag, args.out, arrivals)
    except KeyboardInterrupt:
        return 130
    except (RuntimeError, OSError, ValueError) as error:
        print(f'[demo] failed: {error}', file=sys.stderr)
        return 1
    (args.out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    text = report(summary, args.out)
    (args.out / 'summary.txt').write_text(text + '\n')
    print(f'\n{text}\n\n[demo] done in {time.monotonic() - start:.0f} s', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
