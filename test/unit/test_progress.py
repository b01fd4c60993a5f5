"""Progress bars in files and pipes: a line every few seconds, no carriage-return redraws (night_seg_ros.progress)."""
from __future__ import annotations

import io

import pytest

from night_seg_ros.progress import LineProgressStream, progress_stream


class Clock:
    """A test's clock: seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bar_in_a_log_is_a_line_every_few_seconds():
    tqdm = pytest.importorskip('tqdm').tqdm
    clock, log = Clock(), io.StringIO()
    bar = tqdm(total=200, desc='segmenting', unit='frame', mininterval=0,
               file=LineProgressStream(log, interval=5.0, clock=clock))
    for _ in range(200):  # 200 redraws over 20 s
        clock.now += 0.1
        bar.update(1)
    bar.close()
    text = log.getvalue()
    lines = text.splitlines()
    assert '\r' not in text
    assert 4 <= len(lines) <= 6 and all(line.startswith('segmenting:') for line in lines)
    assert '200/200' in lines[-1]


def test_plain_lines_pass_through_unchanged():
    log = io.StringIO()
    stream = LineProgressStream(log)
    stream.write('first line\n\nsecond ')
    stream.write('part\n')
    assert log.getvalue() == 'first line\n\nsecond part\n'


def test_a_terminal_keeps_the_live_bar():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    assert progress_stream(terminal) is terminal
    assert isinstance(progress_stream(pipe), LineProgressStream)


def test_segmenting_a_bag_into_a_log_draws_no_carriage_returns(capsys):
    pytest.importorskip('tqdm')
    from night_seg_ros.drives.bag import _progress

    update = _progress(50, True)
    for _ in range(50):
        update(1)
    update(0, close=True)
    err = capsys.readouterr().err
    assert '\r' not in err and '50/50' in err
