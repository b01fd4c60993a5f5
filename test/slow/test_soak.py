"""The soak run's code path, shortened: 500 frames at 30 Hz into seg_node over real DDS (scripts/soak.py runs 10,000).

Uses the tiny 64x128 bundle and a 320x240 camera so the run takes about 20 s; the checks are the full run's.
"""
from __future__ import annotations

from night_seg_ros.bench.soak import SoakResult, latency_bound, run_soak


def test_500_frames_at_30_hz_leave_the_node_alive_without_memory_growth_or_backlog(tiny_bundle, tmp_path):
    result = run_soak(tiny_bundle, tmp_path, frames=500, rate_hz=30.0, camera=(320, 240), warmup_frames=100)
    print(result.report())
    assert result.passed, result.report()
    assert result.alive_at_end and result.answered_after_stream
    assert result.node_errors == 0
    assert result.rss_warmup > 0 and result.rss_growth < 0.10
    assert result.latency_p95_s <= result.latency_bound_s
    assert result.answered > 100  # the tiny model keeps up with most frames
    assert result.node_processed + result.node_dropped == result.node_received  # every frame taken or dropped


def test_verdict_names_each_failed_check():
    result = SoakResult(frames_sent=10, warmup_frames=1, rate_hz=30.0, camera='320x240', rss_warmup=100,
                        rss_max_after_warmup=120)
    assert abs(result.rss_growth - 0.2) < 1e-9
    result.failures.append('resident memory grew 20.0% after warm-up (limit 10%)')
    assert not result.passed
    assert 'soak FAIL' in result.report() and 'FAILED: resident memory grew 20.0%' in result.report()
    assert latency_bound(0.1) == 1.1 and latency_bound(0.5) == 2.0
