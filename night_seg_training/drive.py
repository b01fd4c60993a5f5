"""A synthetic night drive as a real rosbag2: a camera driving forward along one generated street at night.

Every frame renders the same street (`synth.make_scene`) from a camera that advances `speed` metres per
second along the right-hand lane, with the traffic moving along (`synth.advance`) and the night lighting held steady
(`synth.render(..., lighting=...)`), so consecutive frames are one coherent drive, not independent scenes. The bag is
deterministic in its `DriveSpec` (pixels, labels, stamps) and carries, all with the same header per frame:

  /camera/image_raw              sensor_msgs/Image bgr8
  /camera/image_raw/compressed   sensor_msgs/CompressedImage jpeg
  /camera/camera_info            sensor_msgs/CameraInfo (pinhole of the rendering camera, no distortion)
  /ground_truth/labels           sensor_msgs/Image mono8, exact Cityscapes train ids 0-18 of each frame

It is synthetic data and says so in the bag's folder (SYNTHETIC.md).

  night-seg-train drive OUT [--seconds 10] [--rate 10] [--storage mcap]
"""
from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from night_seg_ros.drives import bag_io
from night_seg_training import synth
from night_seg_training.synth import SynthError

IMAGE_TOPIC = '/camera/image_raw'
COMPRESSED_TOPIC = '/camera/image_raw/compressed'
CAMERA_INFO_TOPIC = '/camera/camera_info'
GROUND_TRUTH_TOPIC = '/ground_truth/labels'
FRAME_ID = 'camera_optical'
START_STAMP_NS = 1_700_000_000_000_000_000
"""Header stamp of the first frame (a fixed time, so the bag is the same on every machine)."""


@dataclass(frozen=True)
class DriveSpec:
    """What to drive: seed (street, traffic, lighting), seconds (first to last frame), rate_hz (frames per second),
    height and width (pixels), speed (metres per second), start (metres along the street), hfov_deg (degrees)."""

    seed: int = 3
    seconds: float = 10.0
    rate_hz: float = 10.0
    height: int = 720
    width: int = 1280
    speed: float = 9.0
    start: float = 40.0
    hfov_deg: float = 70.0

    @property
    def frames(self) -> int:
        """Number of frames: one every 1 / rate_hz seconds from 0 to `seconds` inclusive."""
        return int(round(self.seconds * self.rate_hz)) + 1

    def check(self) -> None:
        """SynthError (a ValueError) naming a value out of range."""
        if self.seed < 0:
            raise SynthError(f'seed {self.seed}; must be >= 0')
        if not 0 < self.rate_hz <= 100:
            raise SynthError(f'rate {self.rate_hz} Hz; allowed: > 0 and <= 100')
        if self.seconds <= 0 or self.start + self.speed * self.seconds > synth.STREET_LENGTH:
            raise SynthError(f'{self.seconds} s at {self.speed} m/s from {self.start} m leaves the street '
                             f'(0-{synth.STREET_LENGTH:.0f} m); drive shorter or slower')
        if self.height < 8 or self.width < 8:
            raise SynthError(f'image size {self.width}x{self.height}; both sides must be >= 8 pixels')


@dataclass(frozen=True, eq=False)
class DriveFrame:
    """One frame: index, header stamp (ns), image uint8 (H, W, 3) RGB, label uint8 (H, W) Cityscapes train ids."""

    index: int
    stamp_ns: int
    image: np.ndarray
    label: np.ndarray


def _streams(seed: int) -> tuple[np.random.SeedSequence, ...]:
    """Independent seeds of the street, the traffic, the lighting and the per-frame sensor noise."""
    return tuple(np.random.SeedSequence([seed, 0xD21E]).spawn(4))


def drive_frames(spec: DriveSpec) -> Iterator[DriveFrame]:
    """Render the drive's frames in order (about 0.5 s each at 1280x720 on one CPU core)."""
    spec.check()
    street_seed, traffic_seed, light_seed, noise_seed = _streams(spec.seed)
    scene = synth.make_scene(int(street_seed.generate_state(1)[0]))
    lane_x = 0.5 * scene.lane_width
    first = synth.Camera(x=lane_x, height=1.4, z=spec.start, hfov_deg=spec.hfov_deg)
    distance = spec.speed * spec.seconds
    traffic = synth.sample_dynamic(scene, np.random.default_rng(traffic_seed),
                                   (spec.start - 6.0, spec.start + distance + synth.VIEW_DISTANCE / 2),
                                   keep_clear=first, clear_ahead=distance + 15.0)
    # Pedestrians crossing the road would walk through the ego car's path; keep those walking along the sidewalks.
    traffic = [thing for thing in traffic if thing.velocity[0] == 0.0]
    noise_seeds = noise_seed.spawn(spec.frames)
    for index in range(spec.frames):
        seconds = index / spec.rate_hz
        camera = synth.Camera(x=lane_x + 0.12 * math.sin(0.6 * seconds), height=1.4,
                              z=spec.start + spec.speed * seconds, yaw=math.radians(0.4 * math.sin(0.45 * seconds)),
                              hfov_deg=spec.hfov_deg)
        image, label = synth.render(scene, synth.advance(traffic, seconds), camera, spec.height, spec.width, 'night',
                                    np.random.default_rng(noise_seeds[index]),
                                    lighting=np.random.default_rng(light_seed))
        yield DriveFrame(index, START_STAMP_NS + round(seconds * 1e9), image, label)


def camera_info(spec: DriveSpec, msg_header: object) -> object:
    """sensor_msgs/CameraInfo of the rendering camera: focal length from hfov_deg, principal point as synth's."""
    types = bag_io.typestore().types
    focal = (spec.width / 2) / math.tan(math.radians(spec.hfov_deg) / 2)
    cx, cy = (spec.width - 1) / 2, 0.45 * spec.height
    k = np.array([focal, 0, cx, 0, focal, cy, 0, 0, 1], np.float64)
    p = np.array([focal, 0, cx, 0, 0, focal, cy, 0, 0, 0, 1, 0], np.float64)
    roi = types['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types[bag_io.CAMERA_INFO](
        header=msg_header, height=spec.height, width=spec.width, distortion_model='plumb_bob',
        d=np.zeros(5, np.float64), k=k, r=np.eye(3).reshape(-1), p=p, binning_x=0, binning_y=0, roi=roi)


def write_drive_bag(out: str | Path, spec: DriveSpec = DriveSpec(), storage: str = 'mcap',
                    progress: bool = True) -> Path:
    """Write the drive of `spec` as a new rosbag2 folder `out` (written aside, renamed into place); returns out.

    SynthError for a spec out of range or an existing `out`, raised before anything is written."""
    spec.check()
    out = Path(out)
    if out.exists():
        raise SynthError(f'{out} already exists; choose a new folder or remove it')
    staging = out.with_name(out.name + '.partial')  # the bag is written as staging/<name>, then moved to out
    shutil.rmtree(staging, ignore_errors=True)
    partial = staging / out.name
    writer = bag_io.open_writer(partial, storage)
    try:
        topics = {topic: bag_io.add_topic(writer, topic, msgtype) for topic, msgtype in (
            (IMAGE_TOPIC, bag_io.IMAGE), (COMPRESSED_TOPIC, bag_io.COMPRESSED_IMAGE),
            (CAMERA_INFO_TOPIC, bag_io.CAMERA_INFO), (GROUND_TRUTH_TOPIC, bag_io.IMAGE))}
        for frame in tqdm(drive_frames(spec), total=spec.frames, desc='night drive', unit='frame',
                          disable=not progress):
            msg_header = bag_io.header(frame.stamp_ns, FRAME_ID)
            bgr = np.ascontiguousarray(frame.image[:, :, ::-1])
            messages = ((IMAGE_TOPIC, bag_io.image_message(bgr, 'bgr8', msg_header), bag_io.IMAGE),
                        (COMPRESSED_TOPIC, bag_io.compressed_message(bgr, msg_header), bag_io.COMPRESSED_IMAGE),
                        (CAMERA_INFO_TOPIC, camera_info(spec, msg_header), bag_io.CAMERA_INFO),
                        (GROUND_TRUTH_TOPIC, bag_io.image_message(frame.label, 'mono8', msg_header), bag_io.IMAGE))
            for topic, msg, msgtype in messages:
                writer.write(topics[topic], frame.stamp_ns, bag_io.serialize(msg, msgtype))
    finally:
        writer.close()
    settings = ''.join(f'- {key}: {value}\n' for key, value in asdict(spec).items())
    (partial / 'SYNTHETIC.md').write_text(
        '# Synthetic night drive\n\n'
        'Every frame in this bag is procedurally generated (training.synth, training.drive): a simple 3-D street '
        'rendered at night from a camera driving forward, not a recording of a real place.\n\n'
        f'- generator version: {synth.GENERATOR_VERSION}\n{settings}'
        f'- topics: {IMAGE_TOPIC} (bgr8), {COMPRESSED_TOPIC} (jpeg), {CAMERA_INFO_TOPIC}, {GROUND_TRUTH_TOPIC} '
        '(mono8 Cityscapes train ids 0-18)\n')
    partial.rename(out)
    staging.rmdir()
    return out
