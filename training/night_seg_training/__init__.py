"""Day-night training for night_seg_ros: datasets, the synthetic street generator, the method, the loop, evaluation.

Imports `night_seg_ros` (model, bundle, export); `night_seg_ros` never imports this package, so a vehicle needs none
of it. Samples move between the parts as dicts of numpy arrays:

  labelled view    {'image': uint8 (H, W, 3) RGB, 'label': uint8 (H, W) Cityscapes train ids (255 = ignore),
                    'name': str}
  night pair       {'image': uint8 (H, W, 3) RGB night, 'reference': uint8 (H', W', 3) RGB day image of the same
                    place (coarsely aligned), 'name': str, and 'label' where the night image has ground truth}
"""
