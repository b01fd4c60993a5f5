"""A synthetic drive as a real rosbag2: a camera driving forward along one generated street, by night or by day.

Every frame renders the same street (`make_scene`) from a camera that advances `speed` metres per
second along the right-hand lane, with the traffic moving along (`advance`) and the lighting held steady
(`render(..., lighting=...)`), so consecutive frames are one coherent drive, not independent scenes. The street
depends on `seed` alone; `pass_index` chooses one pass along it: its traffic, lighting, sensor noise, GPS noise and a
small lateral and heading jitter of the camera path (pass 0 is the original night drive, unchanged). A day pass and
a night pass of one seed are two drives of the same route, as a user records them for `night-seg-train pairs`.

The bag is deterministic in its `DriveSpec` (pixels, labels, stamps, fixes) and carries, with the same header per
camera frame:

  /camera/image_raw              sensor_msgs/Image bgr8
  /camera/image_raw/compressed   sensor_msgs/CompressedImage jpeg
  /camera/camera_info            sensor_msgs/CameraInfo (pinhole of the rendering camera, no distortion)
  /ground_truth/labels           sensor_msgs/Image mono8, exact Cityscapes train ids 0-18 of each frame
  /ground_truth/pose             geometry_msgs/PoseStamped, the camera's true east/north metres from route.ROUTE_ORIGIN
                                 and ENU heading (frame 'route_enu'); for measuring a matcher, never an input to one
and at `gps_rate_hz` (own stamps):
  /gps/fix                       sensor_msgs/NavSatFix with Gauss-Markov noise of `gps_sigma` metres per axis
                                 (route.gps_errors), covariance diagonal known

It is synthetic data and says so in the bag's folder (SYNTHETIC.md).

  night-seg-train drive OUT [--seconds 10] [--rate 10] [--storage mcap] [--time-of-day day] [--pass N]
  night-seg-train drive OUT --route-pair      OUT/day (pass 1) and OUT/night (pass 0) of the same route
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from night_seg_ros.drives import bag_io
from night_seg_ros.files import atomic_output
from night_seg_training.synthetic import route
from night_seg_training.synthetic.files import GENERATOR_VERSION
from night_seg_training.synthetic.geometry import Camera
from night_seg_training.synthetic.rendering import TIMES_OF_DAY, SynthError, render
from night_seg_training.synthetic.street import STREET_LENGTH, VIEW_DISTANCE, Scene, make_scene
from night_seg_training.synthetic.traffic import advance, sample_dynamic

IMAGE_TOPIC = '/camera/image_raw'
COMPRESSED_TOPIC = '/camera/image_raw/compressed'
CAMERA_INFO_TOPIC = '/camera/camera_info'
GROUND_TRUTH_TOPIC = '/ground_truth/labels'
GROUND_TRUTH_POSE_TOPIC = '/ground_truth/pose'
GPS_TOPIC = '/gps/fix'
NAV_SAT_FIX = 'sensor_msgs/msg/NavSatFix'
POSE_STAMPED = 'geometry_msgs/msg/PoseStamped'
FRAME_ID = 'camera_optical'
GPS_FRAME_ID = 'gps'
POSE_FRAME_ID = 'route_enu'
START_STAMP_NS = 1_700_000_000_000_000_000
"""Header stamp of the first frame (a fixed time, so the bag is the same on every machine)."""
ROUTE_PAIR = {'day': 1, 'night': 0}
"""Pass of each drive `--route-pair` writes (sub-folder name -> pass_index; time of day = the name)."""


@dataclass(frozen=True)
class DriveSpec:
    """What to drive: seed (street, traffic, lighting), seconds (first to last frame), rate_hz (frames per second),
    height and width (pixels), speed (metres per second), start (metres along the street), hfov_deg (degrees),
    time_of_day ('night' or 'day'), pass_index (which pass along the street: traffic, lighting, noise, path jitter),
    gps_sigma (metres per axis, Gauss-Markov), gps_tau (seconds), gps_rate_hz (fixes per second)."""

    seed: int = 3
    seconds: float = 10.0
    rate_hz: float = 10.0
    height: int = 720
    width: int = 1280
    speed: float = 9.0
    start: float = 40.0
    hfov_deg: float = 70.0
    time_of_day: str = 'night'
    pass_index: int = 0
    gps_sigma: float = 2.0
    gps_tau: float = 30.0
    gps_rate_hz: float = 10.0

    @property
    def frames(self) -> int:
        """Number of frames: one every 1 / rate_hz seconds from 0 to `seconds` inclusive."""
        return int(round(self.seconds * self.rate_hz)) + 1

    @property
    def fixes(self) -> int:
        """Number of GPS fixes: one every 1 / gps_rate_hz seconds from 0 to `seconds` inclusive."""
        return int(round(self.seconds * self.gps_rate_hz)) + 1

    def check(self) -> None:
        """SynthError (a ValueError) naming a value out of range."""
        if self.seed < 0:
            raise SynthError(f'seed {self.seed}; must be >= 0')
        if self.pass_index < 0:
            raise SynthError(f'pass {self.pass_index}; must be >= 0')
        for name, rate in (('rate', self.rate_hz), ('GPS rate', self.gps_rate_hz)):
            if not 0 < rate <= 100:
                raise SynthError(f'{name} {rate} Hz; allowed: > 0 and <= 100')
        if self.seconds <= 0 or self.start + self.speed * self.seconds > STREET_LENGTH:
            raise SynthError(f'{self.seconds} s at {self.speed} m/s from {self.start} m leaves the street '
                             f'(0-{STREET_LENGTH:.0f} m); drive shorter or slower')
        if self.height < 8 or self.width < 8:
            raise SynthError(f'image size {self.width}x{self.height}; both sides must be >= 8 pixels')
        if self.time_of_day not in TIMES_OF_DAY:
            raise SynthError(f'time of day {self.time_of_day!r}; allowed: {", ".join(TIMES_OF_DAY)}')
        if self.gps_sigma < 0 or self.gps_tau <= 0:
            raise SynthError(f'GPS noise sigma {self.gps_sigma} m, tau {self.gps_tau} s; need sigma >= 0 and tau > 0')


@dataclass(frozen=True, eq=False)
class DriveFrame:
    """One frame: index, header stamp (ns), image uint8 (H, W, 3) RGB, label uint8 (H, W) Cityscapes train ids,
    true east/north metres from route.ROUTE_ORIGIN (float64 (2,)) and ENU heading (radians)."""

    index: int
    stamp_ns: int
    image: np.ndarray
    label: np.ndarray
    east_north: np.ndarray
    heading: float


def _streams(spec: DriveSpec) -> tuple[np.random.SeedSequence, ...]:
    """Independent seeds of the street, the traffic, the lighting, the per-frame sensor noise, and of the pass's
    path jitter and GPS noise. The street is pass 0's, so every pass drives the same street."""
    street, *pass_0 = np.random.SeedSequence([spec.seed, 0xD21E]).spawn(4)
    own = pass_0 if spec.pass_index == 0 else np.random.SeedSequence([spec.seed, 0xD21E, spec.pass_index]).spawn(3)
    jitter, gps = np.random.SeedSequence([spec.seed, 0x6E55, spec.pass_index]).spawn(2)
    return (street, *own, jitter, gps)


def _scene(spec: DriveSpec) -> Scene:
    return make_scene(int(_streams(spec)[0].generate_state(1)[0]))


def pass_path(spec: DriveSpec, lane_x: float) -> route.PassPath:
    """The camera path of the spec's pass in a lane centred at `lane_x` (metres): pass 0 drives the lane centre with
    the original sway; every other pass stands up to 0.3 m aside, up to 1 degree turned, with its own sway phases."""
    if spec.pass_index == 0:
        return route.PassPath(lane_x=lane_x, start=spec.start, speed=spec.speed)
    rng = np.random.default_rng(_streams(spec)[4])
    return route.PassPath(lane_x=lane_x, start=spec.start, speed=spec.speed, lateral=rng.uniform(-0.3, 0.3),
                          sway_phase=rng.uniform(0, 2 * math.pi), yaw_offset=math.radians(rng.uniform(-1.0, 1.0)),
                          yaw_phase=rng.uniform(0, 2 * math.pi))


def drive_frames(spec: DriveSpec) -> Iterator[DriveFrame]:
    """Render the drive's frames in order (about 0.5 s each at 1280x720 on one CPU core)."""
    spec.check()
    _, traffic_seed, light_seed, noise_seed, _, _ = _streams(spec)
    scene = _scene(spec)
    path = pass_path(spec, 0.5 * scene.lane_width)
    first = Camera(x=path.lane_x, height=1.4, z=spec.start, hfov_deg=spec.hfov_deg)
    distance = spec.speed * spec.seconds
    traffic = sample_dynamic(scene, np.random.default_rng(traffic_seed),
                                   (spec.start - 6.0, spec.start + distance + VIEW_DISTANCE / 2),
                                   keep_clear=first, clear_ahead=distance + 15.0)
    # Pedestrians crossing the road would walk through the ego car's path; keep those walking along the sidewalks.
    traffic = [thing for thing in traffic if thing.velocity[0] == 0.0]
    noise_seeds = noise_seed.spawn(spec.frames)
    for index in range(spec.frames):
        seconds = index / spec.rate_hz
        x, z, yaw = (float(value[0]) for value in path.pose(np.array([seconds])))
        camera = Camera(x=x, height=1.4, z=z, yaw=yaw, hfov_deg=spec.hfov_deg)
        image, label = render(scene, advance(traffic, seconds), camera, spec.height, spec.width,
                                    spec.time_of_day, np.random.default_rng(noise_seeds[index]),
                                    lighting=np.random.default_rng(light_seed))
        yield DriveFrame(index, START_STAMP_NS + round(seconds * 1e9), image, label, route.world_to_enu(x, z),
                         float(route.yaw_to_enu_heading(yaw)))


def gps_fixes(spec: DriveSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pass's GPS fixes: header stamps int64 (F,) ns, latitudes and longitudes float64 (F,) degrees, measured
    (true position + route.gps_errors) at `gps_rate_hz`."""
    spec.check()
    seconds = np.arange(spec.fixes) / spec.gps_rate_hz
    x, z, _ = pass_path(spec, 0.5 * _scene(spec).lane_width).pose(seconds)
    errors = route.gps_errors(spec.fixes, spec.gps_rate_hz, spec.gps_sigma, spec.gps_tau,
                              np.random.default_rng(_streams(spec)[5]))
    latitude, longitude = route.ROUTE_ORIGIN.to_geodetic(route.world_to_enu(x, z) + errors)
    return START_STAMP_NS + np.round(seconds * 1e9).astype(np.int64), latitude, longitude


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


def nav_sat_fix(msg_header: object, latitude: float, longitude: float, sigma: float) -> object:
    """sensor_msgs/NavSatFix of a GPS fix (degrees) at ROUTE_ALTITUDE_M with a known diagonal covariance of
    sigma (horizontal, metres; at least the white jitter) and twice that vertically."""
    types = bag_io.typestore().types
    status_type = types['sensor_msgs/msg/NavSatStatus']
    horizontal = max(sigma, route.WHITE_SIGMA_M) ** 2
    return types[NAV_SAT_FIX](
        header=msg_header, status=status_type(status=status_type.STATUS_FIX, service=status_type.SERVICE_GPS),
        latitude=latitude, longitude=longitude, altitude=route.ROUTE_ALTITUDE_M,
        position_covariance=np.diag([horizontal, horizontal, 4 * horizontal]).reshape(-1),
        position_covariance_type=types[NAV_SAT_FIX].COVARIANCE_TYPE_DIAGONAL_KNOWN)


def pose_stamped(msg_header: object, east_north: np.ndarray, heading: float) -> object:
    """geometry_msgs/PoseStamped at (east, north, 0) metres, turned `heading` radians about the up axis."""
    types = bag_io.typestore().types
    position = types['geometry_msgs/msg/Point'](x=float(east_north[0]), y=float(east_north[1]), z=0.0)
    orientation = types['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=math.sin(heading / 2),
                                                        w=math.cos(heading / 2))
    return types[POSE_STAMPED](header=msg_header, pose=types['geometry_msgs/msg/Pose'](position=position,
                                                                                       orientation=orientation))


def write_drive_bag(out: str | Path, spec: DriveSpec = DriveSpec(), storage: str = 'mcap',
                    progress: bool = True, force: bool = False) -> Path:
    """Write the drive of `spec` as a new rosbag2 folder `out` (written aside, moved into place when complete:
    files.atomic_output; with `force` it then replaces an existing `out`); returns out.

    SynthError for a spec out of range, files.OutputError for an existing `out`, raised before anything is
    written."""
    spec.check()
    out = Path(out)
    with atomic_output(out, force, 'drive bag') as partial:
        _write_bag(partial, spec, storage, progress)
    return out


def _write_bag(partial: Path, spec: DriveSpec, storage: str, progress: bool) -> None:
    """The drive of `spec` as the new bag folder `partial`."""
    writer = bag_io.open_writer(partial, storage)
    try:
        topics = {topic: bag_io.add_topic(writer, topic, msgtype) for topic, msgtype in (
            (IMAGE_TOPIC, bag_io.IMAGE), (COMPRESSED_TOPIC, bag_io.COMPRESSED_IMAGE),
            (CAMERA_INFO_TOPIC, bag_io.CAMERA_INFO), (GROUND_TRUTH_TOPIC, bag_io.IMAGE),
            (GROUND_TRUTH_POSE_TOPIC, POSE_STAMPED), (GPS_TOPIC, NAV_SAT_FIX))}
        fix_stamps, latitudes, longitudes = gps_fixes(spec)
        fix = 0
        for frame in tqdm(drive_frames(spec), total=spec.frames, desc=f'{spec.time_of_day} drive', unit='frame',
                          disable=not progress):
            while fix < len(fix_stamps) and fix_stamps[fix] <= frame.stamp_ns:  # fixes in time order with frames
                msg = nav_sat_fix(bag_io.header(int(fix_stamps[fix]), GPS_FRAME_ID), float(latitudes[fix]),
                                  float(longitudes[fix]), spec.gps_sigma)
                writer.write(topics[GPS_TOPIC], int(fix_stamps[fix]), bag_io.serialize(msg, NAV_SAT_FIX))
                fix += 1
            msg_header = bag_io.header(frame.stamp_ns, FRAME_ID)
            bgr = np.ascontiguousarray(frame.image[:, :, ::-1])
            messages = ((IMAGE_TOPIC, bag_io.image_message(bgr, 'bgr8', msg_header), bag_io.IMAGE),
                        (COMPRESSED_TOPIC, bag_io.compressed_message(bgr, msg_header), bag_io.COMPRESSED_IMAGE),
                        (CAMERA_INFO_TOPIC, camera_info(spec, msg_header), bag_io.CAMERA_INFO),
                        (GROUND_TRUTH_TOPIC, bag_io.image_message(frame.label, 'mono8', msg_header), bag_io.IMAGE),
                        (GROUND_TRUTH_POSE_TOPIC, pose_stamped(msg_header, frame.east_north, frame.heading),
                         POSE_STAMPED))
            for topic, msg, msgtype in messages:
                writer.write(topics[topic], frame.stamp_ns, bag_io.serialize(msg, msgtype))
    finally:
        writer.close()
    settings = ''.join(f'- {key}: {value}\n' for key, value in asdict(spec).items())
    (partial / 'SYNTHETIC.md').write_text(
        f'# Synthetic {spec.time_of_day} drive\n\n'
        'Every frame in this bag is procedurally generated (night_seg_training.synthetic): a simple 3-D street '
        f'rendered by {spec.time_of_day} from a camera driving forward, not a recording of a real place; its GPS '
        'fixes are the true path plus simulated receiver noise (night_seg_training.synthetic.route).\n\n'
        f'- generator version: {GENERATOR_VERSION}\n{settings}'
        f'- topics: {IMAGE_TOPIC} (bgr8), {COMPRESSED_TOPIC} (jpeg), {CAMERA_INFO_TOPIC}, {GROUND_TRUTH_TOPIC} '
        f'(mono8 Cityscapes train ids 0-18), {GROUND_TRUTH_POSE_TOPIC} (true pose, {POSE_FRAME_ID}: metres east and '
        f'north of {route.ROUTE_ORIGIN.latitude}, {route.ROUTE_ORIGIN.longitude}), {GPS_TOPIC} (NavSatFix, '
        f'{spec.gps_rate_hz:g} Hz, Gauss-Markov sigma {spec.gps_sigma:g} m per axis, tau {spec.gps_tau:g} s)\n')


def write_route_pair(out: str | Path, spec: DriveSpec = DriveSpec(), storage: str = 'mcap', day_speed: float = 8.0,
                     progress: bool = True, force: bool = False) -> dict[str, Path]:
    """A day drive and a night drive of the same route under the new folder `out`: out/day (pass 1 at `day_speed`
    m/s, different traffic and a slightly different path) and out/night (pass 0 of `spec`). Returns name -> bag.
    Both appear together, when complete (files.atomic_output; `force` as in write_drive_bag)."""
    out = Path(out)
    specs = {name: replace(spec, time_of_day=name, pass_index=index,
                           speed=day_speed if name == 'day' else spec.speed) for name, index in ROUTE_PAIR.items()}
    for each in specs.values():
        each.check()
    with atomic_output(out, force, 'route pair folder') as staged:
        for name, each in specs.items():
            write_drive_bag(staged / name, each, storage, progress)
    return {name: out / name for name in specs}
