"""Procedural synthetic day/night street scenes with exact Cityscapes train-id labels (numpy + OpenCV, no torch).

World coordinates are metres: x right, y up, z forward along one straight street centred on x = 0, right-hand
traffic (lanes with x > 0 drive towards +z). `make_scene` builds the static street of a seed; `sample_dynamic` draws
the moving objects separately, so one place can be rendered with different traffic (`advance` moves it along for a
drive). `render` projects everything through a pinhole `Camera` with the painter's algorithm (far to near), so labels
are exact. `render_pair` and `SyntheticStreets` give deterministic day/night pairs of one place (coarsely aligned
cameras, different traffic), `write_dataset` writes them in a Dark Zurich val-like layout.

One module per concern, each importing only the ones listed before it:

  materials   Cityscapes label ids, day albedo palettes, night light colours
  geometry    convex drawing primitives (boxes, polygons, ellipses) and the pinhole Camera
  street      make_scene: the static layout of one street (Scene)
  traffic     sample_dynamic, advance: the moving objects (Thing)
  lighting    the light of one image: sun and sky by day, street lamps and head lights by night
  drawing     the painter's pass: projection, visibility, one buffer of drawable ids
  rendering   render: per-pixel surfaces, sky, glare and sensor effects; SynthError
  pairs       render_pair, SyntheticStreets: day/night pairs of one place (_place chooses cameras and traffic)
  files       write_dataset, contact_sheet
"""
from night_seg_training.synth.files import GENERATOR_VERSION, contact_sheet, write_dataset
from night_seg_training.synth.geometry import Camera, Primitives
from night_seg_training.synth.materials import (
                                                BICYCLE,
                                                BUILDING,
                                                BUS,
                                                CAR,
                                                FENCE,
                                                MOTORCYCLE,
                                                PERSON,
                                                POLE,
                                                RIDER,
                                                ROAD,
                                                SIDEWALK,
                                                SKY,
                                                TERRAIN,
                                                TRAFFIC_LIGHT,
                                                TRAFFIC_SIGN,
                                                TRUCK,
                                                VEGETATION,
                                                WALL,
)
from night_seg_training.synth.pairs import (
                                                ALIGNMENTS,
                                                MIN_SIZE,
                                                SPLITS,
                                                STREETS_PER_SPLIT,
                                                StreetPair,
                                                SyntheticDayView,
                                                SyntheticNightView,
                                                SyntheticStreets,
                                                render_pair,
)
from night_seg_training.synth.rendering import TIMES_OF_DAY, SynthError, render
from night_seg_training.synth.street import STREET_LENGTH, VIEW_DISTANCE, Scene, make_scene
from night_seg_training.synth.traffic import Thing, advance, sample_dynamic

__all__ = [
    'ALIGNMENTS', 'BICYCLE', 'BUILDING', 'BUS', 'CAR', 'FENCE', 'GENERATOR_VERSION', 'MIN_SIZE', 'MOTORCYCLE', 'PERSON',
    'POLE',
    'RIDER', 'ROAD', 'SIDEWALK', 'SKY', 'SPLITS', 'STREETS_PER_SPLIT', 'STREET_LENGTH', 'TERRAIN', 'TIMES_OF_DAY',
    'TRAFFIC_LIGHT', 'TRAFFIC_SIGN', 'TRUCK', 'VEGETATION', 'VIEW_DISTANCE', 'WALL', 'Camera', 'Primitives', 'Scene',
    'StreetPair', 'SynthError', 'SyntheticDayView', 'SyntheticNightView', 'SyntheticStreets', 'Thing', 'advance',
    'contact_sheet', 'make_scene', 'render', 'render_pair', 'sample_dynamic', 'write_dataset',
]
