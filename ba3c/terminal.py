"""Terminal output that can go away without taking the run with it.

`make run | tee log` and then Ctrl-C ends tee too; `python train.py | head` closes the pipe early. A
print to a closed pipe raises BrokenPipeError, which would end the trainer at its next status line,
before its stop checkpoint. Wrapped streams swallow such errors and drop later output; the run
folder (progress.jsonl, TensorBoard, checkpoints, metadata) still gets everything."""
from __future__ import annotations

import sys
from typing import TextIO


class SurvivingStream:
    """A text stream whose write/flush never raise OSError: after the first failure it drops output."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except (OSError, ValueError):  # EPIPE/EIO, or the stream was closed
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True

    def isatty(self) -> bool:
        return not self.broken and self._stream.isatty()

    def __getattr__(self, name: str):  # fileno, encoding, ...: the wrapped stream's
        return getattr(self._stream, name)


def keep_running_without_a_terminal() -> None:
    """Wrap sys.stdout and sys.stderr (idempotent)."""
    if not isinstance(sys.stdout, SurvivingStream):
        sys.stdout = SurvivingStream(sys.stdout)
    if not isinstance(sys.stderr, SurvivingStream):
        sys.stderr = SurvivingStream(sys.stderr)
