"""Early stopping of MLE pre-training on a validation split (--mle_patience).

Every `validation_every`-th real sequence is held out (neither G nor D trains
on it). After each MLE epoch G's mean token NLL on it is measured; the best
epoch's G is kept in the state (`best_generator`, checkpointed); after
`patience` epochs without a lower NLL, or at the last epoch, G goes back to
its best epoch and the phase ends.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from absl import logging

from seqgan_tf.modeling import chunked_log_probs, through_end
from seqgan_tf.modeling.losses import mle_loss
from seqgan_tf.training.state import SeqGAN


def split(real: np.ndarray, every: int) -> tuple[np.ndarray, np.ndarray]:
  """(training rows, validation rows): every `every`-th row is held out."""
  held = np.arange(len(real)) % every == every - 1
  return real[~held], real[held]


class EarlyStopping:
  """Decides after each MLE epoch whether the phase goes on."""

  def __init__(self, model: SeqGAN, validation: np.ndarray,
               end_token: int | None, patience: int):
    self.model, self.patience = model, patience
    self.validation = tf.constant(validation)
    self.mask = through_end(self.validation, end_token)
    self._log_probs = tf.function(chunked_log_probs, autograph=False)

  def validation_nll(self) -> float:
    """G's mean NLL per real token (through </s>) of the validation split."""
    return float(mle_loss(self._log_probs(self.model.generator,
                                          self.validation), self.mask))

  def after_epoch(self, index: int, total: int,
                  metrics: dict[str, float]) -> bool:
    """Records epoch `index`'s validation NLL in `metrics`; True: stop now
    (G is then back at its best epoch)."""
    model = self.model
    nll = self.validation_nll()
    metrics["val_nll"] = nll
    if nll < float(model.mle_best_nll):
      model.mle_best_nll.assign(nll)
      model.mle_best_epoch.assign(index)
      model.copy_generator(model.generator, model.best_generator)
    best = int(model.mle_best_epoch)
    stop = index - best >= self.patience
    if stop or index + 1 == total:
      if best != index:
        model.copy_generator(model.best_generator, model.generator)
      logging.info(
          "MLE pre-training %s after epoch %d: G goes on from epoch %d, the "
          "lowest validation NLL (%.4f)%s.",
          "stops early" if stop and index + 1 < total else "ends",
          index + 1, best + 1, float(model.mle_best_nll),
          f"; {self.patience} epochs without a lower one" if stop else "")
    return stop and index + 1 < total
