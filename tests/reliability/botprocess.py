"""`python -m tnlbot` as a child process: type lines, read what it prints, kill -9 it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from .verify import Broken

ROOT = Path(__file__).resolve().parents[2]


def bot_env(url: str, user: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TNLBOT_")}
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(TNLBOT_DATABASE_URL=url, LOGNAME=user, USER=user, LNAME=user, USERNAME=user,
               PYTHONIOENCODING="utf-8", PYTHONPATH=path)
    return env


class BotProcess:
    """One launch of the terminal bot; its stdout is collected by a thread."""

    def __init__(self, url: str, user: str, stderr: Path):
        self._stderr_path = stderr
        self._stderr = stderr.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tnlbot"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, cwd=ROOT,
                                     env=bot_env(url, user))
        self.output = bytearray()
        self._changed = threading.Condition()
        self._eof = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        while True:
            chunk = os.read(fd, 65536)
            with self._changed:
                if not chunk:
                    self._eof = True
                else:
                    self.output += chunk
                self._changed.notify_all()
            if not chunk:
                return

    def wait_until(self, ready: Callable[[bytes], bool], timeout: float, what: str) -> bytes:
        end = time.monotonic() + timeout
        with self._changed:
            while not ready(bytes(self.output)):
                left = end - time.monotonic()
                if self._eof or left <= 0:
                    raise Broken(f"{what}: {'the bot exited' if self._eof else 'timed out'}; "
                                 f"it printed last {bytes(self.output[-400:])!r}; "
                                 f"stderr: {self.stderr_tail()}")
                self._changed.wait(left)
            return bytes(self.output)

    def send(self, line: str) -> int:
        """Type one line; returns where its reply starts in the output."""
        with self._changed:
            position = len(self.output)
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode("utf-8") + b"\n")
        self.proc.stdin.flush()
        return position

    def kill(self) -> bytes:
        os.kill(self.proc.pid, signal.SIGKILL)
        return self._finish()

    def stop(self, timeout: float = 60) -> bytes:
        """End of input: the bot must exit cleanly."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Broken(f"the bot did not exit at end of input; stderr: {self.stderr_tail()}") from None
        if code != 0:
            raise Broken(f"the bot exited with {code}; stderr: {self.stderr_tail()}")
        return self._finish()

    def _finish(self) -> bytes:
        self.proc.wait()
        self._thread.join(30)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except BrokenPipeError:
                pass
        self._stderr.close()
        return bytes(self.output)

    def stderr_tail(self) -> str:
        self._stderr.flush()
        return self._stderr_path.read_bytes()[-2000:].decode("utf-8", "replace")
