"""Day-night training for night_seg_ros: datasets, the synthetic street generator, the method, the loop, evaluation.

Imports `night_seg_ros` (model, bundle, export); `night_seg_ros` never imports this package, so a vehicle needs none
of it. Samples move between the parts as dicts of numpy arrays:

  labelled view    {'image': uint8 (H, W, 3) RGB, 'label': uint8 (H, W) Cityscapes train ids (255 = ignore),
                    'name': str}
  night pair       {'image': uint8 (H, W, 3) RGB night, 'reference': uint8 (H', W', 3) RGB day image of the same
                    place (coarsely aligned), 'name': str, and 'label' where the night image has ground truth}

The parts:

  method/          the method and its baselines, one module per idea (docs/METHOD.md)
  config.py        the recipe as typed dataclasses; configs/ the shipped recipes
  run.py           build_run: a run's method step, network, teacher, optimizer, datasets and batches
  loop.py          train: start, iterations, finish (checkpoints, evaluation, the bundle)
                   (checkpoint.py, distributed.py and allocator.py: its checkpoints, DDP and memory allocator)
  batches.py       each iteration's crops; rare_class.py rare-class sampling of the day images
  segmenter.py     the network as training sees it; head_statistics.py the decode head's statistics at the end
  datasets.py      readers of the published layouts; layout.py Dark Zurich's layout, shared with the writers
  synthetic/       the synthetic world: streets by day and night, their pairs on disk, drives along them as bags
  drive_pairs/     pairing the user's recorded day and night drives into a dataset (`night-seg-train pairs`)
  geodesy.py       a local metric frame around a GPS fix (the synthetic route and the drive pairing)
  evaluate.py      mIoU, confusion matrix, gallery; diagnostics.py pseudo-label quality for the log
  bench.py         the cost of a training iteration per method; cli.py `night-seg-train`
"""
