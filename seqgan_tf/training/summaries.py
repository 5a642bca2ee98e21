"""What a run records: TensorBoard scalars, text and HParams, the evaluation
log (eval_metrics.jsonl) and every final sample's score (final_scores.npz)."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from seqgan_tf.training import workdir as workdir_lib
from seqgan_tf.config import Config

Metrics = dict[str, float]


class RunLog:
  """The run's records in `workdir`."""

  def __init__(self, workdir: str):
    self.workdir = workdir
    self.writer = tf.summary.create_file_writer(
        os.path.join(workdir, "tensorboard"))

  def scalars(self, step: int, prefix: str, metrics: Metrics) -> None:
    with self.writer.as_default(step=step):
      for k, v in metrics.items():
        tf.summary.scalar(f"{prefix}/{k}", v)

  def evaluation(self, step: int, phase: str, final: bool, metrics: Metrics,
                 texts: list[str], per_sample: dict[str, np.ndarray],
                 seconds: float) -> None:
    """One evaluation: TensorBoard, eval_metrics.jsonl, the log, the scores."""
    if per_sample:
      buffer = io.BytesIO()
      np.savez(buffer, **per_sample)
      workdir_lib.write_atomic(
          os.path.join(self.workdir, workdir_lib.SCORES_FILE),
          buffer.getvalue())
    with self.writer.as_default(step=step):
      for name, value in metrics.items():
        tf.summary.scalar(("final/" if final else "") + name, value)
      tf.summary.text("samples", tf.constant(texts))
    with tf.io.gfile.GFile(os.path.join(self.workdir, "eval_metrics.jsonl"),
                           "a") as f:
      f.write(json.dumps({"global_step": step, "phase": phase,
                          "final": final, **metrics}) + "\n")
    logging.info("[%s] global step %d: %s (%.1f s)", phase, step,
                 " ".join(f"{k}={v:.4f}" for k, v in metrics.items()),
                 seconds)
    for text in texts[:3]:
      logging.info("  sample: %s", text)

  def hparams(self, config: Config, metric_names: tuple[str, ...]) -> None:
    """The run's configuration and headline metrics for HParams."""
    from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
    values = {k: (str(v) if isinstance(v, (tuple, list)) else v)
              for k, v in json.loads(config.to_json()).items()}
    metrics = [hp.Metric(("final/" if final else "") + name)
               for final in (True, False) for name in metric_names]
    with self.writer.as_default(step=0):
      hp.hparams_config(hparams=[hp.HParam(k) for k in values],
                        metrics=metrics)
      hp.hparams(values, trial_id=os.path.basename(
          os.path.abspath(self.workdir)))

  def flush(self) -> None:
    self.writer.flush()
