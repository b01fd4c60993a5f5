"""Measuring: the parts of `night-seg bench`, the soak run, and the probe that talks to seg_node over real DDS.

The cost of a training iteration is measured by the training code itself (`night-seg-train bench`).

  backends.py        (a) the bare backends' inference time per backend, device and input size
  node.py            (b) seg_node's overhead over DDS against the bare backend
  bag.py             (c) a recorded drive through the bag tool against the bare backend
  models.py          the untrained bundles the parts time; report.py  tables, JSON, Markdown and the plot
  probe.py           feeds seg_node camera frames over DDS and collects its outputs (tests, bench, soak); the node
                     itself runs under night_seg_ros.node_process
  soak.py            a long stream into seg_node, checked for crashes, memory growth and backlog
The command line is night_seg_ros/cli/bench.py. Ratios are measured within one run, never asserted on in tests.
"""
