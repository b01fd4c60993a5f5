"""night-seg bag on small bags as `ros2 bag record` writes them: Humble sqlite3 (metadata version 5, schema 3) and
Jazzy/Kilted mcap, raw Image and CompressedImage, a malformed message, ground truth for mIoU."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip('rosbags', reason='the bag tool reads and writes bags with rosbags')

from night_seg_ros.backends import create_backend  # noqa: E402
from night_seg_ros.bundle import read_bundle  # noqa: E402
from night_seg_ros.cli import main as cli_main  # noqa: E402
from night_seg_ros.codec import image_to_array, stamp_ns  # noqa: E402
from night_seg_ros.drives import bag_io  # noqa: E402 - after the skip
from night_seg_ros.drives.bag import BagOptions, process_bag  # noqa: E402
from night_seg_ros.pipeline import SegmentationPipeline  # noqa: E402

HEIGHT, WIDTH = 48, 80
FRAMES = 4
T0 = 1_700_000_000_000_000_000
CAMERA, GT = '/camera/image_raw', '/ground_truth/labels'
HUMBLE_QOS = ('- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n    sec: 2147483647\n'
              '    nsec: 4294967295\n  lifespan:\n    sec: 2147483647\n    nsec: 4294967295\n  liveliness: 1\n'
              '  liveliness_lease_duration:\n    sec: 2147483647\n    nsec: 4294967295\n'
              '  avoid_ros_namespace_conventions: false')


def frame(index: int) -> np.ndarray:
    """A smooth uint8 (HEIGHT, WIDTH, 3) BGR frame."""
    rng = np.random.default_rng(index)
    return cv2.resize(rng.integers(0, 255, (3, 5, 3), dtype=np.uint8), (WIDTH, HEIGHT))


def camera_messages(compressed: bool) -> list[tuple[int, bytes]]:
    """(bag timestamp, CDR) of FRAMES camera frames, the third one malformed (truncated CDR or a corrupt JPEG)."""
    msgtype = bag_io.COMPRESSED_IMAGE if compressed else bag_io.IMAGE
    out = []
    for index in range(FRAMES):
        header = bag_io.header(T0 + index * 100_000_000, 'camera_optical')
        msg = (bag_io.compressed_message(frame(index), header) if compressed
               else bag_io.image_message(frame(index), 'bgr8', header))
        data = bag_io.serialize(msg, msgtype)
        if index == 2:
            if compressed:
                msg.data = msg.data[:40].copy()
                data = bag_io.serialize(msg, msgtype)
            else:
                data = data[:60]
        out.append((T0 + index * 100_000_000 + 5_000, data))
    return out


def truth_messages(padding: int = 0) -> list[tuple[int, bytes]]:
    """(bag timestamp, CDR) of mono8 ground-truth labels for every frame: left half road (0), right half sky (10).

    padding > 0 pads every row to step = WIDTH + padding bytes, the padding filled with class id 7 (as a driver that
    aligns rows may write it; a reader that ignores step would take it for labels).
    """
    labels = np.zeros((HEIGHT, WIDTH), np.uint8)
    labels[:, WIDTH // 2:] = 10
    out = []
    for index in range(FRAMES):
        msg = bag_io.image_message(labels, 'mono8', bag_io.header(T0 + index * 100_000_000, 'camera_optical'))
        if padding:
            rows = np.full((HEIGHT, WIDTH + padding), 7, np.uint8)
            rows[:, :WIDTH] = labels
            msg.step, msg.data = WIDTH + padding, rows.reshape(-1)
        out.append((T0 + index * 100_000_000 + 5_000, bag_io.serialize(msg, bag_io.IMAGE)))
    return out


def write_humble_sqlite3(path: Path, topics: dict[str, tuple[str, list[tuple[int, bytes]]]]) -> Path:
    """A bag in Humble's layout (rosbag2 0.15: metadata.yaml version 5, sqlite3 schema 3); rosbags writes 8+ only."""
    path.mkdir()
    db = sqlite3.connect(path / f'{path.name}_0.db3')
    db.executescript(
        'CREATE TABLE schema(schema_version INTEGER PRIMARY KEY,ros_distro TEXT NOT NULL);'
        "INSERT INTO schema VALUES(3,'humble');"
        'CREATE TABLE metadata(id INTEGER PRIMARY KEY,metadata_version INTEGER NOT NULL,metadata TEXT NOT NULL);'
        'CREATE TABLE topics(id INTEGER PRIMARY KEY,name TEXT NOT NULL,type TEXT NOT NULL,'
        'serialization_format TEXT NOT NULL,offered_qos_profiles TEXT NOT NULL);'
        'CREATE TABLE messages(id INTEGER PRIMARY KEY,topic_id INTEGER NOT NULL,timestamp INTEGER NOT NULL, '
        'data BLOB NOT NULL);'
        'CREATE INDEX timestamp_idx ON messages (timestamp ASC);')
    entries, stamps = [], []
    for topic_id, (topic, (msgtype, messages)) in enumerate(topics.items(), start=1):
        db.execute('INSERT INTO topics VALUES(?,?,?,?,?)', (topic_id, topic, msgtype, 'cdr', HUMBLE_QOS))
        db.executemany('INSERT INTO messages(topic_id,timestamp,data) VALUES(?,?,?)',
                       [(topic_id, stamp, data) for stamp, data in messages])
        stamps += [stamp for stamp, _ in messages]
        qos = HUMBLE_QOS.replace('\n', '\\n')
        entries.append(f'    - topic_metadata:\n        name: {topic}\n        type: {msgtype}\n'
                       f'        serialization_format: cdr\n        offered_qos_profiles: "{qos}"\n'
                       f'      message_count: {len(messages)}\n')
    db.commit()
    db.close()
    (path / 'metadata.yaml').write_text(
        'rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: sqlite3\n'
        f'  duration:\n    nanoseconds: {max(stamps) - min(stamps)}\n'
        f'  starting_time:\n    nanoseconds_since_epoch: {min(stamps)}\n  message_count: {len(stamps)}\n'
        '  topics_with_message_count:\n' + ''.join(entries)
        + '  compression_format: ""\n  compression_mode: ""\n'
        f'  relative_file_paths:\n    - {path.name}_0.db3\n'
        f'  files:\n    - path: {path.name}_0.db3\n'
        f'      starting_time:\n        nanoseconds_since_epoch: {min(stamps)}\n'
        f'      duration:\n        nanoseconds: {max(stamps) - min(stamps)}\n      message_count: {len(stamps)}\n')
    return path


def write_mcap(path: Path, topics: dict[str, tuple[str, list[tuple[int, bytes]]]]) -> Path:
    """A Jazzy/Kilted-style mcap bag (rosbag2 version 9) written with rosbags."""
    writer = bag_io.open_writer(path, 'mcap')
    try:
        connections = {topic: bag_io.add_topic(writer, topic, msgtype) for topic, (msgtype, _) in topics.items()}
        merged = sorted((stamp, topic, data) for topic, (_, messages) in topics.items() for stamp, data in messages)
        for stamp, topic, data in merged:
            writer.write(connections[topic], stamp, data)
    finally:
        writer.close()
    return path


@pytest.fixture(scope='module')
def pipeline(tiny_bundle: Path) -> SegmentationPipeline:
    bundle = read_bundle(tiny_bundle)
    return SegmentationPipeline(create_backend('onnxruntime', bundle, 'cpu', 'fp32', 1),
                                (bundle.input.height, bundle.input.width), bundle.palette)


@pytest.mark.parametrize('storage', ['sqlite3_humble', 'mcap'])
@pytest.mark.parametrize('compressed', [False, True], ids=['Image', 'CompressedImage'])
def test_bag_of_each_storage_and_image_type_is_segmented_with_headers_kept(tmp_path, pipeline, storage, compressed):
    msgtype = bag_io.COMPRESSED_IMAGE if compressed else bag_io.IMAGE
    topic = CAMERA + '/compressed' if compressed else CAMERA
    topics = {topic: (msgtype, camera_messages(compressed)), GT: (bag_io.IMAGE, truth_messages())}
    write = write_humble_sqlite3 if storage == 'sqlite3_humble' else write_mcap
    source = write(tmp_path / 'in', topics)

    report = process_bag(source, tmp_path / 'out', pipeline,
                         BagOptions(topic=topic, progress=False, mp4=tmp_path / 'o.mp4', sheet=tmp_path / 's.png'))

    assert report.frames == FRAMES and report.processed == FRAMES - 1
    assert len(report.skipped) == 1 and report.skipped[0].index == 2 and report.skipped[0].topic == topic
    assert 'skipped 1 malformed message' in report.summary() and '#2' in report.summary()
    assert report.gt_frames == FRAMES - 1 and 0.0 <= report.miou <= 1.0
    assert (tmp_path / 'o.mp4').stat().st_size > 0 and cv2.imread(str(tmp_path / 's.png')) is not None
    with bag_io.open_reader(tmp_path / 'out') as reader:
        assert {c.topic for c in reader.connections} == {'/seg/labels', '/seg/color', '/seg/overlay',
                                                         '/seg/confidence'}
        messages = [(c.topic, t, bag_io.deserialize(d, c.msgtype)) for c, t, d in reader.messages()]
    assert len(messages) == 4 * (FRAMES - 1)
    for topic_name, timestamp, msg in messages:
        stamp = stamp_ns(msg.header)
        assert msg.header.frame_id == 'camera_optical'
        assert timestamp == stamp + 5_000  # the input's bag time
        assert (stamp - T0) // 100_000_000 in (0, 1, 3)
        assert (msg.height, msg.width) == (HEIGHT, WIDTH)
        assert msg.encoding == {'labels': 'mono8', 'color': 'rgb8', 'overlay': 'bgr8',
                                'confidence': 'mono8'}[topic_name.rsplit('/', 1)[1]]


def test_miou_is_that_of_the_nodes_labels(tmp_path, pipeline):
    source = write_mcap(tmp_path / 'in', {CAMERA: (bag_io.IMAGE, camera_messages(False)),
                                          GT: (bag_io.IMAGE, truth_messages())})
    report = process_bag(source, tmp_path / 'out', pipeline, BagOptions(progress=False))
    expected = []
    for index in (0, 1, 3):
        rgb = cv2.cvtColor(frame(index), cv2.COLOR_BGR2RGB)
        expected.append(pipeline.render('labels', pipeline.infer(rgb)))
    truth = np.zeros((HEIGHT, WIDTH), np.uint8)
    truth[:, WIDTH // 2:] = 10
    from night_seg_ros.metrics import ConfusionMatrix

    confusion = ConfusionMatrix(19)
    confusion.update(np.stack(expected), np.stack([truth] * 3))
    assert report.miou == pytest.approx(confusion.miou())


def test_padded_mono8_ground_truth_is_read_by_its_step(tmp_path, pipeline):
    padded = write_mcap(tmp_path / 'padded', {CAMERA: (bag_io.IMAGE, camera_messages(False)),
                                              GT: (bag_io.IMAGE, truth_messages(padding=16))})
    with bag_io.open_reader(padded) as reader:
        connection = next(c for c in reader.connections if c.topic == GT)
        msg = bag_io.deserialize(next(reader.messages(connections=[connection]))[2], bag_io.IMAGE)
    expected = np.zeros((HEIGHT, WIDTH), np.uint8)
    expected[:, WIDTH // 2:] = 10
    assert msg.step == WIDTH + 16 and np.array_equal(image_to_array(msg), expected)

    plain = write_mcap(tmp_path / 'plain', {CAMERA: (bag_io.IMAGE, camera_messages(False)),
                                            GT: (bag_io.IMAGE, truth_messages())})
    from_padded = process_bag(padded, tmp_path / 'out_padded', pipeline, BagOptions(progress=False))
    from_plain = process_bag(plain, tmp_path / 'out_plain', pipeline, BagOptions(progress=False))
    assert from_padded.gt_frames == from_plain.gt_frames == FRAMES - 1
    assert [s.topic for s in from_padded.skipped] == [CAMERA]  # only the malformed camera frame
    assert from_padded.miou == pytest.approx(from_plain.miou) and from_padded.iou == from_plain.iou


def test_ground_truth_ids_outside_the_classes_are_a_one_line_error(tmp_path, tiny_bundle, capsys):
    labels = np.full((HEIGHT, WIDTH), 30, np.uint8)  # a labelIds value, not a train id
    truth = [(T0 + index * 100_000_000 + 5_000,
              bag_io.serialize(bag_io.image_message(labels, 'mono8', bag_io.header(T0 + index * 100_000_000, 'cam')),
                               bag_io.IMAGE)) for index in range(FRAMES)]
    source = write_mcap(tmp_path / 'in', {CAMERA: (bag_io.IMAGE, camera_messages(False)), GT: (bag_io.IMAGE, truth)})
    code = cli_main(['bag', str(source), str(tmp_path / 'out'), '--model', str(tiny_bundle), '--backend',
                     'onnxruntime', '--no-progress'])
    error = capsys.readouterr().err
    assert code == 1 and error.count('\n') == 1 and error.startswith('night-seg bag: error: ground truth at stamp')
    assert f'of {GT}: target has' in error and 'ids [30], neither a class id (0-18) nor ignore (255)' in error


def test_cli_names_a_missing_topic_and_lists_the_bag(tmp_path, tiny_bundle, capsys):
    source = write_mcap(tmp_path / 'in', {CAMERA: (bag_io.IMAGE, camera_messages(False))})
    code = cli_main(['bag', str(source), str(tmp_path / 'out'), '--topic', '/front/image', '--model',
                     str(tiny_bundle), '--backend', 'onnxruntime', '--no-progress'])
    assert code == 1
    error = capsys.readouterr().err
    assert 'topic /front/image is not in the bag' in error and CAMERA in error


def test_cli_processes_a_bag_and_reports(tmp_path, tiny_bundle, capsys):
    source = write_mcap(tmp_path / 'in', {CAMERA: (bag_io.IMAGE, camera_messages(False))})
    code = cli_main(['bag', str(source), str(tmp_path / 'out'), '--model', str(tiny_bundle), '--backend',
                     'onnxruntime', '--no-progress'])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f'3/{FRAMES} frames of {CAMERA} processed' in out and 'skipped 1 malformed' in out
    assert 'mIoU' not in out  # no ground truth in this bag
