"""`python -m night_seg_ros.cli ...`: the same as `night-seg ...`."""
import sys

from night_seg_ros.cli import main

sys.exit(main())
