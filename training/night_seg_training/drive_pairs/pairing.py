"""`write_pairs`: the user's day and night drives as a Dark Zurich-like dataset of GPS-matched day/night pairs.

  1. read every bag's camera stamps and positions (`positions.read_drive`; a progress bar over the bags);
  2. project all fixes into one local metric frame around the first fix (`geodesy.LocalFrame`) and make each drive's
     smoothed track (`track`); camera frames take the track's position and heading at their stamps;
  3. sample night frames every `every` metres travelled (none while standing), match each to the nearest day frame
     in position and heading (`matching`), leave out and count those with none within `max_distance`; or, with
     `match='image'`, by image content (`features`; night frames then sampled by distance where positions exist,
     else every `every_seconds`); `match='both'` writes the GPS pairs and reports the image matches next to them;
     `match='refine'` moves each GPS match along the day track by the offset the image matches of its stretch of
     road agree on (`matching.refine_along_track`) and writes those;
  4. split by distance along each night drive (the last `val_fraction` of every `val_block` metres is `val`), so
     held-out frames are a stretch of road, not frames next to training frames;
  5. write (folder renamed into place when complete), in Dark Zurich's layout with day references paired by list
     (night_seg_training.layout):

  rgb_anon/<split>/night/<SEQ>/<SEQ>_frame_<n>_rgb_anon.png     night frame n (n: message index in its bag)
  rgb_anon/<split>/day/<SEQ>/<SEQ>_frame_<n>_rgb_anon.png       its day reference
  corresp/<split>/night/zurich_dn_pair_<split>.csv              "<split>/night/<SEQ>/<SEQ>_frame_<n>,<day ...>"
  gt/<split>/night/<SEQ>/<SEQ>_frame_<n>_gt_labelTrainIds.png   where the bag has a /ground_truth/labels message
  manifest.json                                                 options, origin, per-bag counts, every pair

`datasets.OwnDrives` (recipe name `own_drives`) reads it, and `dark_zurich` reads its train split. SEQ is the bag
folder's name.
"""
from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from night_seg_ros.codec import ImageDecodeError, image_to_array, stamp_ns
from night_seg_ros.drives import bag_io
from night_seg_ros.render import write_png
from night_seg_training import layout
from night_seg_training.drive_pairs.matching import (
    MAX_DISTANCE,
    MAX_HEADING_DEG,
    PRECISION_WITHIN,
    frame_spacing,
    match_by_position,
    precision,
    refine_along_track,
)
from night_seg_training.drive_pairs.positions import LABELS_TOPIC, Drive, PairsError, read_drive
from night_seg_training.drive_pairs.track import make_track, sample_by_distance
from night_seg_training.geodesy import LocalFrame

MANIFEST = 'manifest.json'
FORMAT = 'night-seg-pairs/1'
MATCH_METHODS = ('gps', 'image', 'both', 'refine')
SPLITS = ('train', 'val')


@dataclass(frozen=True)
class PairsOptions:
    """How `write_pairs` samples, matches and splits (metres, degrees, seconds).

    image_topic / position_topic: where a bag has several (None: its only one). every: metres travelled between
    night samples. max_distance: a night frame with no day frame this close is left out. max_heading_deg: heading
    agreement. match: one of MATCH_METHODS. model: bundle directory whose encoder describes images (match image,
    both or refine). every_seconds: sampling of night bags without positions (match image). val_fraction,
    val_block: the last val_fraction of every val_block metres along a night drive is the val split. device: for the
    image encoder.
    """

    image_topic: str | None = None
    position_topic: str | None = None
    every: float = 5.0
    max_distance: float = MAX_DISTANCE
    max_heading_deg: float = MAX_HEADING_DEG
    match: str = 'gps'
    model: str | None = None
    every_seconds: float = 1.0
    val_fraction: float = 0.2
    val_block: float = 200.0
    device: str = 'cpu'
    progress: bool = True

    def check(self) -> None:
        """PairsError naming the first option out of range."""
        if self.match not in MATCH_METHODS:
            raise PairsError(f'match {self.match!r}; allowed: {", ".join(MATCH_METHODS)}')
        if self.match != 'gps' and not self.model:
            raise PairsError(f'match {self.match!r} describes images with a model: give --model BUNDLE_DIR (your '
                             'current bundle)')
        for name, value in (('every', self.every), ('max distance', self.max_distance),
                            ('every seconds', self.every_seconds), ('val block', self.val_block)):
            if not value > 0:
                raise PairsError(f'{name} {value}; must be > 0')
        if not 0 <= self.val_fraction < 1:
            raise PairsError(f'val fraction {self.val_fraction}; allowed: 0 <= fraction < 1')
        if not 0 < self.max_heading_deg <= 180:
            raise PairsError(f'max heading {self.max_heading_deg} degrees; allowed: > 0 and <= 180')


@dataclass
class BagCounts:
    """What happened to one bag's frames and fixes."""

    path: str
    role: str
    sequence: str
    camera_topic: str
    position_topic: str | None
    frames: int
    skipped_fixes: dict[str, int]
    no_position: int = 0
    standing: int = 0
    sampled: int = 0
    matched: int = 0
    unmatched: int = 0


@dataclass
class PairsReport:
    """Counts, per-split pair numbers, GPS and image match quality; `summary()` for the terminal."""

    out: Path
    bags: list[BagCounts]
    pairs: dict[str, int] = field(default_factory=dict)
    labelled: dict[str, int] = field(default_factory=dict)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines: per bag counts, pairs per split, match quality."""
        lines = []
        for bag in self.bags:
            fixes = bag.skipped_fixes
            line = (f'{bag.role} {bag.sequence}: {bag.frames} frames of {bag.camera_topic}, skipped fixes: '
                    f'{fixes["no_fix"]} NO_FIX, {fixes["nan"]} NaN; {bag.no_position} frames without position')
            if bag.role == 'night':
                line += (f', {bag.standing} standing still; {bag.sampled} sampled, {bag.matched} matched, '
                         f'{bag.unmatched} without a day frame in reach')
            lines.append(line)
        lines.append('pairs: ' + ', '.join(f'{split} {count} ({self.labelled.get(split, 0)} labelled)'
                                          for split, count in self.pairs.items()))
        for method, quality in self.quality.items():
            lines.append(f'{method} matches: ' + ', '.join(f'{key} {_fmt(value)}' for key, value in quality.items()))
        lines.append(f'wrote {self.out}')
        return '\n'.join(lines)


def _fmt(value: Any) -> str:
    return f'{value:.3f}' if isinstance(value, float) else str(value)


@dataclass
class _Frames:
    """Camera frames of one role, concatenated over its bags: bag (int (K,)), frame index in the bag (K,), stamps
    (K,), east_north float64 (K, 2) (NaN without position), heading (K,), distance along the bag's track (K,)."""

    bag: np.ndarray
    frame: np.ndarray
    stamp: np.ndarray
    east_north: np.ndarray
    heading: np.ndarray
    distance: np.ndarray


def _sequence_names(paths: Sequence[Path]) -> list[str]:
    """A Dark Zurich-style sequence name per bag: its folder name (letters, digits, - and _), made unique."""
    names: list[str] = []
    for path in paths:
        name = re.sub(r'[^A-Za-z0-9_-]+', '_', path.resolve().name) or 'drive'
        names.append(name if name not in names else f'{name}_{len(names)}')
    return names


def _local_frames(drives: Sequence[Drive]) -> tuple[LocalFrame | None, str]:
    """The shared local frame (around the first fix of the first bag with NavSatFix) and the position kind
    ('geodetic', 'metric' or 'none'); PairsError when bags mix NavSatFix and Odometry."""
    kinds = {drive.positions.geodetic for drive in drives if drive.positions is not None}
    if len(kinds) > 1:
        raise PairsError('the bags mix NavSatFix and Odometry positions, which are in different frames; give each '
                         'bag the same kind with --position-topic')
    if not kinds:
        return None, 'none'
    if kinds == {False}:
        return None, 'metric'
    first = next(drive.positions for drive in drives if drive.positions is not None)
    return LocalFrame(float(first.coordinates[0, 0]), float(first.coordinates[0, 1])), 'geodetic'


def _frames(drives: Sequence[Drive], origin: LocalFrame | None) -> _Frames:
    """The camera frames of `drives` (bag numbers = their order) with their track positions."""
    parts = []
    for number, drive in enumerate(drives):
        count = len(drive.frame_stamps)
        east_north, heading, distance = np.full((count, 2), np.nan), np.zeros(count), np.zeros(count)
        if drive.positions is not None:
            points = drive.positions.coordinates
            if origin is not None:
                points = origin.to_local(points[:, 0], points[:, 1])
            track = make_track(drive.positions.stamps, points, drive.positions.heading)
            east_north, heading, distance, valid = track.at(drive.frame_stamps)
            east_north[~valid] = np.nan
        parts.append((np.full(count, number), np.arange(count), drive.frame_stamps, east_north, heading, distance))
    return _Frames(*(np.concatenate([part[i] for part in parts]) for i in range(6)))


def _night_samples(drive: Drive, frames: _Frames, rows: np.ndarray, options: PairsOptions,
                   counts: BagCounts) -> np.ndarray:
    """Rows of `frames` (those of one night bag, `rows`) to pair: by distance where positioned, else by time."""
    if drive.positions is None:
        seconds = (frames.stamp[rows] - frames.stamp[rows][0]) / 1e9 if len(rows) else np.zeros(0)
        return rows[sample_by_distance(seconds, options.every_seconds)]
    positioned = rows[np.isfinite(frames.east_north[rows, 0])]
    counts.no_position = len(rows) - len(positioned)
    counts.standing = int(np.sum(np.diff(frames.distance[positioned]) == 0)) if len(positioned) else 0
    return positioned[sample_by_distance(frames.distance[positioned], options.every)]


def _decoded(drive: Drive, wanted: set[int], labels: bool = False) -> Iterator[tuple[str, int, np.ndarray]]:
    """('image', frame index, uint8 (H, W, 3) RGB) for each `wanted` frame of a bag and, with `labels`, ('label',
    frame index, uint8 (H, W) train ids) for each of them with a mono8 ground-truth message, streamed in bag order
    (nothing is held in memory). PairsError names a wanted frame whose image does not decode."""
    by_stamp = {int(drive.frame_stamps[index]): index for index in wanted}
    with bag_io.open_reader(drive.path) as reader:
        topics = [drive.camera_topic] + ([LABELS_TOPIC] if labels and drive.label_stamps else [])
        connections = [conn for conn in reader.connections if conn.topic in topics]
        index = -1
        for connection, _, data in reader.messages(connections=connections):
            if connection.topic == LABELS_TOPIC:
                msg = bag_io.deserialize(data, connection.msgtype)
                if stamp_ns(msg.header) in by_stamp and msg.encoding == 'mono8':
                    yield 'label', by_stamp[stamp_ns(msg.header)], image_to_array(msg)
                continue
            index += 1
            if index not in wanted:
                continue
            try:
                yield 'image', index, bag_io.decode_rgb(bag_io.deserialize(data, connection.msgtype),
                                                        connection.msgtype)
            except ImageDecodeError as error:
                raise PairsError(f'{drive.path}: frame {index} of {drive.camera_topic} does not decode: {error}'
                                 ) from error


def _descriptors(drives: Sequence[Drive], frames: _Frames, rows: np.ndarray, encoder: Any,
                 progress: bool) -> np.ndarray:
    """float32 (len(rows), C) place descriptors of the frames at `rows`, read bag by bag."""
    out: dict[int, np.ndarray] = {}
    with tqdm(total=len(rows), desc='describing frames', unit='frame', disable=not progress) as bar:
        for number in np.unique(frames.bag[rows]):
            mine = rows[frames.bag[rows] == number]
            wanted = {int(frame): int(row) for frame, row in zip(frames.frame[mine], mine, strict=True)}
            batch: list[tuple[int, np.ndarray]] = []
            for position, (_, index, rgb) in enumerate(_decoded(drives[number], set(wanted)), start=1):
                batch.append((wanted[index], rgb))
                if len(batch) == 16 or position == len(wanted):
                    for (row, _), descriptor in zip(batch, encoder([image for _, image in batch]), strict=True):
                        out[row] = descriptor
                    bar.update(len(batch))
                    batch = []
    return np.stack([out[int(row)] for row in rows])


def _match(drives: Sequence[Drive], frames: _Frames, day_rows: np.ndarray, night_rows: np.ndarray,
           options: PairsOptions) -> dict[str, np.ndarray]:
    """Matches of the night samples (aligned with night_rows): 'day' (the pairs written: a frames row, -1 none),
    and per method 'gps' rows with 'gps_distance' (metres), 'image' rows with 'similarity' and 'margin', 'refine'
    rows."""
    result: dict[str, np.ndarray] = {}
    if options.match != 'image':
        index, distance = match_by_position(frames.east_north[night_rows], frames.heading[night_rows],
                                            frames.east_north[day_rows], frames.heading[day_rows],
                                            options.max_distance, options.max_heading_deg,
                                            frame_spacing(frames.east_north[day_rows], frames.bag[day_rows]))
        result['gps'], result['gps_distance'] = np.where(index >= 0, day_rows[index], -1), distance
    if options.match != 'gps':
        from night_seg_training.drive_pairs.features import PlaceEncoder, match_by_content

        encoder = PlaceEncoder(options.model, options.device)
        best, result['similarity'], result['margin'] = match_by_content(
            _descriptors(drives, frames, night_rows, encoder, options.progress),
            _descriptors(drives, frames, day_rows, encoder, options.progress), frames.bag[night_rows],
            frames.bag[day_rows])
        result['image'] = day_rows[best]
    if options.match == 'refine':
        position = {int(row): column for column, row in enumerate(day_rows)}   # frames row -> index into day_rows
        refined = refine_along_track(
            np.array([position.get(int(row), -1) for row in result['gps']]), best, frames.distance[day_rows],
            frames.bag[day_rows], frames.stamp[night_rows] / 1e9, frames.bag[night_rows])
        result['refine'] = np.where(refined >= 0, day_rows[refined], -1)
    result['day'] = result[options.match if options.match in ('image', 'refine') else 'gps']
    return result


def _route_coordinate(frames: _Frames, rows: np.ndarray) -> np.ndarray:
    """Metres along each row's night drive; without positions, seconds since the bag's first frame x 10 m/s."""
    first = {int(bag): frames.stamp[np.argmax(frames.bag == bag)] for bag in np.unique(frames.bag[rows])}
    seconds = (frames.stamp[rows] - np.array([first[int(bag)] for bag in frames.bag[rows]])) / 1e9
    return np.where(np.isfinite(frames.east_north[rows, 0]), frames.distance[rows], 10.0 * seconds)


def _key(split: str, role: str, sequence: str, frame: int) -> str:
    """The pair-list key of frame `frame` of `sequence` (layout.pair_key)."""
    return layout.pair_key(split, role, sequence, layout.frame_stem(sequence, frame))


def _write(drives: Sequence[Drive], names: Sequence[str], frames: _Frames, night_rows: np.ndarray,
           matches: dict[str, np.ndarray], options: PairsOptions, root: Path, report: PairsReport) -> list[dict]:
    """Write images, labels and pair lists of the matched night samples under `root`; the manifest's pair list."""
    along = _route_coordinate(frames, night_rows)
    val = np.mod(along, options.val_block) >= (1.0 - options.val_fraction) * options.val_block
    targets: dict[tuple[int, int], list[Path]] = {}   # (bag, frame) -> image files to write
    pairs = []
    for sample, (row, day) in enumerate(zip(night_rows, matches['day'], strict=True)):
        if day < 0:
            continue
        split = 'val' if val[sample] else 'train'
        night_key = _key(split, 'night', names[frames.bag[row]], int(frames.frame[row]))
        day_key = _key(split, 'day', names[frames.bag[day]], int(frames.frame[day]))
        for key, source in ((night_key, row), (day_key, day)):
            targets.setdefault((int(frames.bag[source]), int(frames.frame[source])), []).append(
                layout.image_of_key(root, key))
        pair = {'split': split, 'night': night_key, 'day': day_key, 'night_stamp': int(frames.stamp[row]),
                'day_stamp': int(frames.stamp[day]), 'along_m': round(float(along[sample]), 2)}
        for prefix, source in (('night', row), ('day', day)):
            if np.isfinite(frames.east_north[source, 0]):
                pair[f'{prefix}_east_north_m'] = [round(float(v), 3) for v in frames.east_north[source]]
                pair[f'{prefix}_heading_deg'] = round(float(np.degrees(frames.heading[source])), 2)
        for key in ('gps_distance', 'similarity', 'margin'):
            if key in matches:
                pair[key + ('_m' if key == 'gps_distance' else '')] = round(float(matches[key][sample]), 4)
        pairs.append(pair)
    report.pairs = {split: sum(pair['split'] == split for pair in pairs) for split in SPLITS}
    report.labelled = dict.fromkeys(SPLITS, 0)
    night_splits = {(int(frames.bag[row]), int(frames.frame[row])): 'val' if val[sample] else 'train'
                    for sample, row in enumerate(night_rows) if matches['day'][sample] >= 0}
    for number in tqdm(range(len(drives)), desc='writing pairs', unit='bag', disable=not options.progress):
        wanted = {frame for bag, frame in targets if bag == number}
        for kind, index, array in _decoded(drives[number], wanted, labels=True):
            if kind == 'image':
                for path in targets[(number, index)]:
                    write_png(path, cv2.cvtColor(array, cv2.COLOR_RGB2BGR))
            elif (number, index) in night_splits:
                split = night_splits[(number, index)]
                write_png(layout.NIGHT_LABELS.path(root, split, names[number], layout.frame_stem(names[number], index)),
                          array)
                report.labelled[split] += 1
    for split in SPLITS:
        lines = ''.join(f'{pair["night"]},{pair["day"]}\n' for pair in pairs if pair['split'] == split)
        if lines:
            listing = layout.pair_list(root, split)
            listing.parent.mkdir(parents=True, exist_ok=True)
            listing.write_text(lines)
    return pairs


def _truth(drive: Drive, stamps: np.ndarray) -> np.ndarray | None:
    """True east/north metres (float64 (N, 2)) of a synthetic bag at `stamps`, or None without /ground_truth/pose."""
    if len(drive.truth_stamps) < 2:
        return None
    t, known = stamps.astype(np.float64), drive.truth_stamps.astype(np.float64)
    return np.stack([np.interp(t, known, drive.truth_east_north[:, axis]) for axis in range(2)], axis=-1)


def _quality(drives: Sequence[Drive], frames: _Frames, night_rows: np.ndarray,
             matches: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Per method: pairs, measured distance or similarity figures, agreement of image with GPS matches, and where
    both bags carry a true pose, the precision (true distance <= PRECISION_WITHIN metres)."""
    truth = {}
    for number, drive in enumerate(drives):
        rows = np.flatnonzero(frames.bag == number)
        known = _truth(drive, frames.stamp[rows])
        if known is not None:
            truth.update(zip(rows.tolist(), known, strict=True))
    quality: dict[str, dict[str, Any]] = {}
    for method in ('gps', 'image', 'refine'):
        if method not in matches:
            continue
        found = matches[method] >= 0
        day, night = matches[method][found], night_rows[found]
        figures: dict[str, Any] = {'pairs': int(found.sum())}
        if method == 'gps':
            distance = matches['gps_distance'][found]
            figures.update(measured_distance_m_p50=float(np.median(distance)) if len(distance) else None,
                           measured_distance_m_p95=float(np.percentile(distance, 95)) if len(distance) else None)
        elif method == 'image':
            figures.update(similarity_mean=float(np.mean(matches['similarity'])),
                           margin_mean=float(np.mean(matches['margin'])))
            if 'gps' in matches:
                both = found & (matches['gps'] >= 0)
                gap = np.linalg.norm(frames.east_north[matches['image'][both]]
                                     - frames.east_north[matches['gps'][both]], axis=-1)
                figures[f'within_{PRECISION_WITHIN:g}m_of_gps_match'] = float(np.mean(gap <= PRECISION_WITHIN))
        if all(int(row) in truth for row in (*night, *day)) and len(night):
            true_night = np.array([truth[int(row)] for row in night])
            true_day = np.array([truth[int(row)] for row in day])
            figures[f'precision_true_within_{PRECISION_WITHIN:g}m'] = precision(true_night, true_day)
            figures['true_distance_m_p50'] = float(np.median(np.linalg.norm(true_night - true_day, axis=-1)))
        quality[method] = figures
    return quality


def write_pairs(day_bags: Sequence[str | Path], night_bags: Sequence[str | Path], out: str | Path,
                options: PairsOptions = PairsOptions()) -> PairsReport:
    """Pair the night frames of `night_bags` with day frames of `day_bags` into the new dataset folder `out`.

    See the module docstring. PairsError / bag_io.BagError (NightSegErrors) for bad options, an existing `out`,
    unreadable bags, missing or ambiguous topics (naming the topics the bag has)."""
    options.check()
    out = Path(out)
    if out.exists():
        raise PairsError(f'{out} already exists; choose a new folder or remove it')
    if not day_bags or not night_bags:
        raise PairsError('pairs needs at least one --day bag and one --night bag')
    paths = [Path(bag) for bag in (*day_bags, *night_bags)]
    roles = ['day'] * len(day_bags) + ['night'] * len(night_bags)
    drives = [read_drive(path, options.image_topic, options.position_topic, need_positions=options.match != 'image')
              for path in tqdm(paths, desc='reading bags', unit='bag', disable=not options.progress)]
    origin, kind = _local_frames(drives)
    names = _sequence_names(paths)
    counts = [BagCounts(str(path), role, name, drive.camera_topic,
                        drive.positions.topic if drive.positions is not None else None, len(drive.frame_stamps),
                        dict(drive.skipped)) for path, role, name, drive in zip(paths, roles, names, drives,
                                                                                strict=True)]
    frames = _frames(drives, origin)
    is_day = np.isin(frames.bag, np.flatnonzero(np.array(roles) == 'day'))
    for number in range(len(day_bags)):
        rows = np.flatnonzero(frames.bag == number)
        counts[number].no_position = int(np.sum(~np.isfinite(frames.east_north[rows, 0])))
    day_rows = np.flatnonzero(is_day & (np.isfinite(frames.east_north[:, 0]) | (options.match == 'image')))
    night_rows = np.concatenate([_night_samples(drives[number], frames, np.flatnonzero(frames.bag == number),
                                                options, counts[number])
                                 for number in range(len(day_bags), len(paths))])
    matches = _match(drives, frames, day_rows, night_rows, options)
    if not np.any(matches['day'] >= 0):
        raise PairsError('no night frame has a day frame in reach: check that the drives share a route, or raise '
                         f'--max-distance ({options.max_distance:g} m) / --max-heading ({options.max_heading_deg:g} '
                         'degrees)')
    report = PairsReport(out, counts)
    staging = out.with_name(out.name + '.partial')   # written aside, renamed into place when complete
    shutil.rmtree(staging, ignore_errors=True)
    try:
        pairs = _write(drives, names, frames, night_rows, matches, options, staging, report)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report.quality = _quality(drives, frames, night_rows, matches)
    for number in range(len(day_bags), len(paths)):
        rows = frames.bag[night_rows] == number
        counts[number].sampled = int(rows.sum())
        counts[number].matched = int(np.sum(rows & (matches['day'] >= 0)))
        counts[number].unmatched = counts[number].sampled - counts[number].matched
    manifest = {
        'format': FORMAT, 'options': asdict(options), 'position_kind': kind,
        'origin': None if origin is None else {'latitude': origin.latitude, 'longitude': origin.longitude},
        'bags': [asdict(bag) for bag in counts], 'pairs': pairs, 'quality': report.quality,
        'counts': {'pairs': report.pairs, 'labelled': report.labelled},
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + '\n')
    staging.rename(out)
    return report
