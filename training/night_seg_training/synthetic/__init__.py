"""The synthetic world: procedural day/night street scenes with exact Cityscapes train-id labels, their day/night
pairs and files on disk, and drives along them as rosbag2 with GPS (numpy + OpenCV, no torch).

World coordinates are metres: x right, y up, z forward along one straight street centred on x = 0, right-hand
traffic (lanes with x > 0 drive towards +z). `make_scene` builds the static street of a seed; `sample_dynamic` draws
the moving objects separately, so one place can be rendered with different traffic (`advance` moves it along for a
drive). `render` projects everything through a pinhole `Camera` with the painter's algorithm (far to near), so labels
are exact. `render_pair` and `SyntheticStreets` give deterministic day/night pairs of one place (coarsely aligned
cameras, different traffic), `write_dataset` writes them in the Dark Zurich layout (night_seg_training.layout). A
drive (`drive.write_drive_bag`) renders one pass along a street into a bag with GPS fixes along its `route`.

One module per concern, each importing only the ones listed before it, and only their public names:

  materials     Cityscapes label ids, day albedo palettes, night light colours
  geometry      convex drawing primitives (boxes, polygons, ellipses) and the pinhole Camera
  street        make_scene: the static layout of one street (Scene)
  traffic       sample_dynamic, advance: the moving objects (Thing)
  lighting      the light of one image: sun and sky by day, street lamps and head lights by night
  drawing       the painter's pass: projection, visibility, one buffer of drawable ids
  rendering     render: per-pixel surfaces, sky, glare and sensor effects; SynthError
  street_pairs  render_pair, SyntheticStreets: day/night pairs of one place (cameras and traffic of each view)
  files         write_dataset, contact_sheet
  route         the street on the globe and the GPS receiver that measures a pass along it
  drive         write_drive_bag, write_route_pair: drives along a street as rosbag2 (`night-seg-train drive`)
  real_layouts  write_real_layouts: synthetic streets in the real datasets' layouts (a dress rehearsal of a real run)

`drive`, `route` and `real_layouts` are imported as modules (night_seg_training.synthetic.drive), not re-exported
here.
"""
from night_seg_training.synthetic.files import GENERATOR_VERSION, contact_sheet, write_dataset
from night_seg_training.synthetic.geometry import Camera, Primitives
from night_seg_training.synthetic.materials import (
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
from night_seg_training.synthetic.rendering import TIMES_OF_DAY, SynthError, render
from night_seg_training.synthetic.street import STREET_LENGTH, VIEW_DISTANCE, Scene, make_scene
from night_seg_training.synthetic.street_pairs import (
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
from night_seg_training.synthetic.traffic import Thing, advance, sample_dynamic

__all__ = [
    'ALIGNMENTS', 'BICYCLE', 'BUILDING', 'BUS', 'CAR', 'FENCE', 'GENERATOR_VERSION', 'MIN_SIZE', 'MOTORCYCLE', 'PERSON',
    'POLE',
    'RIDER', 'ROAD', 'SIDEWALK', 'SKY', 'SPLITS', 'STREETS_PER_SPLIT', 'STREET_LENGTH', 'TERRAIN', 'TIMES_OF_DAY',
    'TRAFFIC_LIGHT', 'TRAFFIC_SIGN', 'TRUCK', 'VEGETATION', 'VIEW_DISTANCE', 'WALL', 'Camera', 'Primitives', 'Scene',
    'StreetPair', 'SynthError', 'SyntheticDayView', 'SyntheticNightView', 'SyntheticStreets', 'Thing', 'advance',
    'contact_sheet', 'make_scene', 'render', 'render_pair', 'sample_dynamic', 'write_dataset',
]
