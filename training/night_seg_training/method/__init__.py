"""The adaptation method and its baselines, one module per idea (docs/METHOD.md maps them to the paper):

  options          the `method:` section of a recipe (MethodConfig) and the methods as presets (PRESETS), resolved
                   when the config loads; torch-free
  class_masks      the static classes (what a day reference may give a night image) and class masks
  augment          strong augmentation, ClassMix and relight: what the student must be consistent under
  teacher          EmaTeacher: the mean teacher (and the frozen start model of `anchor_classes`)
  cross_attention  CrossAttentionTransfer: the day prediction carried to night pixels, and the similarity map
  refinement       ReferenceRefinement: the static-class convex mix of night and day predictions, and its gate
  pseudo_label     NightPseudoLabeler: teacher prediction -> refinement by the day reference -> confidence weight
  steps            Supervised and MeanTeacher, one training step's losses; build_method(config)

Nothing is imported here, so that the config (which reads `options`) loads without torch.
"""
