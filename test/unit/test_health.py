"""Diagnostics levels from the node's counters (night_seg_ros.node.health) and latencies that are never negative."""
from night_seg_ros.node.health import ERROR, OK, WARN, Health
from night_seg_ros.node.stats import frame_latency


def period(errors: int = 0, bad: int = 0) -> dict[str, int]:
    """A FrameStats summary with these counts in its last period."""
    return {'window_errors': errors, 'window_bad_input': bad}


def test_a_stopped_camera_is_a_warning_after_several_periods_and_ok_again_when_frames_come():
    health = Health()
    assert health.assess(period(), True, 1.5, 1.0).level == OK
    stopped = health.assess(period(), True, 3.2, 1.0, '/camera/image_raw')
    assert stopped.level == WARN and 'no frame on /camera/image_raw for 3.2 s' in stopped.message
    assert health.assess(period(), True, 0.1, 1.0).level == OK


def test_short_periods_do_not_flag_a_slow_camera():
    assert Health().assess(period(), True, 1.0, 0.1).level == OK


def test_not_taking_frames_is_idle_not_stopped():
    status = Health().assess(period(), False, 100.0, 1.0)
    assert status.level == OK and status.message.startswith('idle')


def test_repeated_worker_errors_are_an_error_then_ok_by_itself():
    health = Health()
    assert [health.assess(period(errors=2), True, 0.1, 1.0).level for _ in range(4)] == [WARN, WARN, ERROR, ERROR]
    assert 'errors in each of the last 5 periods' in health.assess(period(errors=1), True, 0.1, 1.0).message
    assert health.assess(period(), True, 0.1, 1.0).level == OK
    assert health.assess(period(errors=1), True, 0.1, 1.0).level == WARN  # a new streak starts at one


def test_bad_input_and_a_stall_are_named_together():
    status = Health().assess(period(bad=3), True, 5.0, 1.0)
    assert status.level == WARN and '3 bad input' in status.message and 'no frame on' in status.message


def test_latency_is_never_negative():
    assert frame_latency(2_000_000_000, 1_500_000_000, 0.01) == (0.5, True)
    assert frame_latency(0, 1_500_000_000, 0.01) == (0.01, False)  # use_sim_time before /clock: now is 0
    assert frame_latency(1_000_000_000, 1_500_000_000, 0.01) == (0.01, False)  # the clock jumped back
    assert frame_latency(1_000_000_000, 0, 0.02) == (0.02, False)  # an unstamped frame
    assert frame_latency(1, 0, -0.001)[0] == 0.0
