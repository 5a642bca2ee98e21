"""A clean stop on SIGTERM (a preempted job) and Ctrl-C."""

from __future__ import annotations

import signal
import threading

from absl import logging


class StopSignal:
  """SIGTERM and SIGINT ask the run to stop at the next step boundary.

  The first signal sets `requested`; the loop then writes a checkpoint and
  exits. A second one stops at once (KeyboardInterrupt), losing the work since
  the last checkpoint. Used as a context manager; outside the main thread
  (where Python cannot install handlers) it never fires.
  """

  def __init__(self):
    self.requested: str | None = None
    self._previous = {}

  def __enter__(self) -> "StopSignal":
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc) -> None:
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous = {}

  def _handle(self, signum, frame) -> None:
    del frame
    if self.requested:
      raise KeyboardInterrupt
    self.requested = signal.Signals(signum).name
    logging.warning("%s received: stopping at the next step boundary after a "
                    "checkpoint (send it again to stop at once and lose the "
                    "work since the last checkpoint).", self.requested)
