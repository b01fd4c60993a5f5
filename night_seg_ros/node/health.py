"""The node's diagnostic status from its counters, once a diagnostics period: OK, WARN or ERROR and why.

- WARN when no frame arrived for `stall_periods` periods (at least STALL_MIN_SECONDS) while the node takes frames
  (the camera stopped, or its topic or QoS does not match), when frames were bad input, or when a frame failed in the
  last period;
- ERROR when frames failed in each of the last `error_periods` periods (the pipeline is broken, not one frame);
- OK again by itself once frames arrive and none fails for a period. Not taking frames (no output subscribed) is OK.
Importable without rclpy: the node maps the levels onto diagnostic_msgs/DiagnosticStatus.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OK, WARN, ERROR = 'ok', 'warn', 'error'
LEVELS = (OK, WARN, ERROR)
STALL_PERIODS = 3
"""Periods without a frame, while taking frames, before the status says the camera stopped ..."""
STALL_MIN_SECONDS = 2.0
"""... and at least these seconds, so that short periods do not flag a slow camera."""
ERROR_PERIODS = 3
"""Consecutive periods with failed frames before the status is ERROR."""


@dataclass(frozen=True)
class Status:
    """A diagnostic level (one of LEVELS) and the message that says why."""

    level: str
    message: str


class Health:
    """Turns each period's counters into a Status; keeps the count of consecutive periods with failed frames."""

    def __init__(self, stall_periods: int = STALL_PERIODS, error_periods: int = ERROR_PERIODS) -> None:
        """Start with no failed periods behind."""
        self.stall_periods = stall_periods
        self.error_periods = error_periods
        self._failing_periods = 0

    def assess(self, summary: dict[str, Any], taking_frames: bool, seconds_without_frame: float,
               period: float, topic: str = 'the input') -> Status:
        """The status of the period that `summary` (FrameStats.summary) closes.

        taking_frames: whether the node is subscribed to the camera. seconds_without_frame: since the newest frame
        arrived, or since the node subscribed when none has yet. period: seconds between diagnostics.
        """
        errors, bad = summary['window_errors'], summary['window_bad_input']
        self._failing_periods = self._failing_periods + 1 if errors else 0
        problems: list[tuple[str, str]] = []
        if self._failing_periods >= self.error_periods:
            problems.append((ERROR, f'frames failing: {errors} errors in the last period, errors in each of the last '
                                    f'{self._failing_periods} periods (see the node log)'))
        elif errors:
            problems.append((WARN, f'{errors} errors in the last period'))
        if bad:
            problems.append((WARN, f'{bad} bad input in the last period'))
        if taking_frames and seconds_without_frame >= max(self.stall_periods * period, STALL_MIN_SECONDS):
            problems.append((WARN, f'no frame on {topic} for {seconds_without_frame:.1f} s: the camera stopped, or its '
                                   'topic or QoS does not match'))
        if not problems:
            return Status(OK, 'ok' if taking_frames else 'idle: no output has a subscriber, no frames taken')
        level = max((level for level, _ in problems), key=LEVELS.index)
        return Status(level, '; '.join(message for _, message in problems))
