"""A clean stop on SIGTERM (a preempted job) and Ctrl-C, agreed by every
worker of a multi-worker run."""

from __future__ import annotations

import signal
import threading

import tensorflow as tf
from absl import logging

from seqgan_tf.training import distribute


class StopSignal:
  """SIGTERM and SIGINT ask the run to stop at the next step boundary.

  The first signal sets `requested`; the loop then writes a checkpoint and
  exits. A second one stops at once (KeyboardInterrupt), losing the work since
  the last checkpoint. Used as a context manager; outside the main thread
  (where Python cannot install handlers) it never fires.

  The loop asks `agreed` at every step boundary. Under several workers a
  signal reaches one of them (its machine is preempted); the others would
  wait for it in the next collective. So the workers vote at every boundary
  (one small all-reduce) and all stop at the same one, each after its
  checkpoint, with the same signal's exit code; the same command on every
  worker then resumes from there.
  """

  def __init__(self):
    self.requested: str | None = None   # this process's signal
    self.stopping: str | None = None    # the one every worker agreed on
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

  def agreed(self, strategy: tf.distribute.Strategy) -> str | None:
    """The signal to stop on at this step boundary (None: go on).

    One process: its own. Several workers: the vote of all of them (SIGTERM
    wins over SIGINT); every worker must call this at the same boundaries.
    """
    if distribute.is_multi_worker(strategy):
      sigint, sigterm = distribute.sum_over_workers(
          strategy, [self.requested == "SIGINT", self.requested == "SIGTERM"])
      self.stopping = ("SIGTERM" if sigterm else "SIGINT" if sigint
                       else None)
    else:
      self.stopping = self.requested
    return self.stopping

  def _handle(self, signum, frame) -> None:
    del frame
    if self.requested:
      raise KeyboardInterrupt
    self.requested = signal.Signals(signum).name
    logging.warning("%s received: stopping at the next step boundary after a "
                    "checkpoint (send it again to stop at once and lose the "
                    "work since the last checkpoint).", self.requested)
