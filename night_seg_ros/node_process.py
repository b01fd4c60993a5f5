"""seg_node as its own process: start it from its installed console script, wait until it is ready, interrupt it as
Ctrl-C does, read its log and memory (the end-to-end tests, `night-seg bench`, the soak run and the demo).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def console_script(name: str) -> str:
    """The installed console script `name` of this package, e.g. 'seg_node' (next to this Python, else on PATH)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f'{name} is not installed: pip install -e . first (make setup)')
    return found


class NodeProcess:
    """seg_node (or another ROS node's `command`) in its own process, with its output captured to a file (for tests'
    messages, the bench, the demo)."""

    def __init__(self, log_dir: Path, *params: str, namespace: str = '/', remaps: Sequence[str] = (),
                 command: Sequence[str] | None = None, name: str = 'seg_node') -> None:
        """Start `seg_node --ros-args -r __ns:=namespace -r from:=to ... -p name:=value ...` for each 'from:=to' in
        `remaps` and each 'name:=value' in `params`; its output goes to log_dir/<name><namespace>.log. `command`
        replaces `seg_node` (a node that logs 'ready:' once it runs, as seg_node does)."""
        self.name = name
        self.log_path = log_dir / f'{name}{namespace.replace("/", "_")}.log'
        args = [*(command or [console_script('seg_node')]), '--ros-args', '-r', f'__ns:={namespace}']
        for remap in remaps:
            args += ['-r', remap]
        for param in params:
            args += ['-p', param]
        self._log = self.log_path.open('w')
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=dict(os.environ))

    def log(self) -> str:
        """Everything the node printed so far."""
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the node logs that it is ready; fail with its log if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while 'ready:' not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f'{self.name} did not start (exit {self.process.poll()}):\n{self.log()}')
            time.sleep(0.1)

    def interrupt(self, timeout: float = 30.0) -> int:
        """Send SIGINT (Ctrl-C) and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def rss_bytes(self) -> int:
        """The node process's resident memory in bytes (Linux /proc); 0 once it has exited."""
        try:
            status = Path(f'/proc/{self.process.pid}/status').read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the process so far (Linux /proc)."""
        fields = Path(f'/proc/{self.process.pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

    def kill(self) -> None:
        """Make sure the process is gone (test clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()
