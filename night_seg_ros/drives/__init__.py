"""Recorded drives without the ROS 2 command-line tools: segment a bag, replay one, record one, preview it.

  bag_io.py    the rosbag2 format layer (rosbags): open, write, topics, (de)serialise, Image messages via codec
  frames.py    frames from a folder of images or a bag (int8 calibration, engine verification)
  bag.py       a camera topic of a bag through the node's pipeline into a new bag (+ MP4, contact sheet, mIoU)
  replay.py    a bag published into a live graph with its recorded timing
  recorder.py  live topics written into a new bag
  preview.py   an MP4 that keeps a drive's timing, and contact sheets of sampled frames
"""
