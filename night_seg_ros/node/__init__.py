"""seg_node, the ROS 2 node, and what only it needs.

  seg_node.py      the node (glue): parameters, QoS, subscription and publishers, one worker thread; `main`
  parameters.py    the parameter table (name, type, default, allowed values, description), validated at start-up
  latest_frame.py  the latest-frame slot and the worker thread that takes from it
  stats.py         the frame counters and latency windows that diagnostics report
  health.py        the diagnostic level (OK, WARN, ERROR) and its reason, from those counters
Everything but seg_node.py imports without rclpy.
"""
