"""Pairing recorded drives: day/night pairs of the user's own drives (`night-seg-train pairs`), from positions in
their bags or image content, written as a dataset the `own_drives` recipe trains on.

One module per concern, each importing only the ones listed before it:

  positions  read NavSatFix / Odometry positions and camera stamps from a bag (skipped fixes counted); PairsError
  track      Track: a smoothed position track with heading and distance travelled; sampling by distance
  matching   match night samples to the nearest day frame in position and heading; match precision
  features   the image-content fallback: pooled encoder features of a bundle, matched by cosine similarity
  pairing    write_pairs: the whole pipeline, ending in the Dark Zurich layout (night_seg_training.layout) with its
             manifest
"""
