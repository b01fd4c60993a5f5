"""The shared argparse types: accepted values come back typed, refused ones name the bound."""
from __future__ import annotations

import argparse

import pytest

from night_seg_ros.argtypes import fraction, number, positive_float, positive_int


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
