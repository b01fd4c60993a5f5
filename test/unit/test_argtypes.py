"""The shared argparse types: accepted values come back typed, refused ones name the bound."""
from __future__ import annotations

import argparse

import pytest

from night_seg_ros.argtypes import (
    device,
    existing_file,
    existing_folder,
    fraction,
    number,
    positive_float,
    positive_int,
    ros_topic,
    seed,
)


def test_accepted_values_come_back_typed():
    assert positive_int('3') == 3 and isinstance(positive_int('3'), int)
    assert positive_float('0.5') == 0.5
    assert fraction('0') == 0.0 and fraction('1') == 1.0


@pytest.mark.parametrize('parse, text, message', [
    (positive_int, '0', '0 must be >= 1'),
    (positive_int, '1.5', "'1.5' is not an integer"),
    (positive_float, '0', '0.0 must be > 0'),
    (positive_float, 'nan', 'nan must be > 0'),
    (positive_float, 'inf', 'inf must be > 0'),
    (positive_float, 'fast', "'fast' is not a number"),
    (fraction, '1.01', '1.01 must be >= 0 and <= 1'),
    (number(int, 0, hint=' (a DLA core index)'), '-1', '-1 must be >= 0 (a DLA core index)'),
])
def test_refused_values_name_the_bound(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        parse(text)
    assert str(refused.value) == message


@pytest.mark.parametrize('text', ['/camera/image_raw', 'camera/image_raw', '/a_1/_b', 'image'])
def test_ros_topic_accepts_valid_names(text):
    assert ros_topic(text) == text


@pytest.mark.parametrize('text', ['', '/', 'camera image', '/camera//image', '/camera/', '/1camera', '/camera/2d',
                                  '~/image', '/{ns}/image', 'caméra'])
def test_ros_topic_refuses_invalid_names(text):
    with pytest.raises(argparse.ArgumentTypeError, match='is not a valid ROS topic name'):
        ros_topic(text)


def test_device_seed_and_paths(tmp_path):
    assert device('cuda:1') == 'cuda:1' and seed('0') == 0 and seed(str(2**32 - 1)) == 2**32 - 1
    with pytest.raises(argparse.ArgumentTypeError, match="'gpu' is not a device; allowed: auto, cpu, cuda, cuda:N"):
        device('gpu')
    with pytest.raises(argparse.ArgumentTypeError, match='must be >= 0 and <= 4294967295'):
        seed('-1')
    (tmp_path / 'file').write_text('x')
    assert existing_folder(str(tmp_path)) == tmp_path and existing_file(str(tmp_path / 'file')) == tmp_path / 'file'
    with pytest.raises(argparse.ArgumentTypeError, match='is not a folder'):
        existing_folder(str(tmp_path / 'file'))
    with pytest.raises(argparse.ArgumentTypeError, match='does not exist'):
        existing_file(str(tmp_path / 'missing'))


def test_threads_take_the_range_of_the_nodes_num_threads():
    from night_seg_ros.cli.arguments import threads
    from night_seg_ros.node.parameters import PARAMETERS_BY_NAME

    spec = PARAMETERS_BY_NAME['num_threads']
    assert threads(str(int(spec.maximum))) == spec.maximum and threads(str(int(spec.minimum))) == spec.minimum
    for outside in (spec.minimum - 1, spec.maximum + 1):
        with pytest.raises(argparse.ArgumentTypeError, match="as the node's num_threads"):
            threads(str(int(outside)))


def test_segformer_sizes_name_every_variant():
    pytest.importorskip('torch', reason='night_seg_ros.model needs torch')
    from night_seg_ros.model import SEGFORMER_VARIANTS
    from night_seg_ros.vocabulary import SEGFORMER_SIZES

    assert SEGFORMER_SIZES == tuple(SEGFORMER_VARIANTS)
