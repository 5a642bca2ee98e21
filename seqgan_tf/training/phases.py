"""The work of one unit of each phase, resumable at any batch.

A unit is an MLE epoch, a D pre-training step (fresh negatives, then
--dis_epochs epochs) or an adversarial iteration (g-steps of policy gradient,
then d-steps of D). Each checks for a stop signal before every batch and G
step; the `Stop` it raises carries the loop counters to resume from, which
the trainer saves in the checkpoint's position.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import tensorflow as tf

from seqgan_tf.config import Config
from seqgan_tf.data import input_pipeline
from seqgan_tf.modeling import baselines
from seqgan_tf.seeds import SeedPath, int_seed, stateless_seed
from seqgan_tf.training import distribute, progress, signals
from seqgan_tf.training.state import DIS_METRICS, PG_METRICS, SeqGAN

Metrics = dict[str, float]

MLE, DIS_PRETRAIN, ADVERSARIAL = (SeedPath.MLE, SeedPath.DIS_PRETRAIN,
                                  SeedPath.ADVERSARIAL)
# A mean token NLL this many times a uniform guess's log(V) has diverged,
# finite or not (a learning rate of 1e30 gave 1e31 without a NaN).
MAX_NLL_OVER_UNIFORM = 10.0


class TrainingDivergedError(RuntimeError):
  """A loss became NaN, infinite or absurd; the last good checkpoint is kept."""


def check_finite(metrics: Metrics, vocab_size: int, where: str,
                 latest_checkpoint: str | None) -> None:
  """Raises TrainingDivergedError if a unit's metric diverged at `where`."""
  bad = [k for k, v in metrics.items() if not math.isfinite(v)]
  limit = MAX_NLL_OVER_UNIFORM * math.log(vocab_size)
  if metrics.get("mle_loss", 0.0) > limit:
    bad.append(f"mle_loss ({metrics['mle_loss']:.4g} > {limit:.4g}, "
               f"{MAX_NLL_OVER_UNIFORM:g} x a uniform guess)")
  if bad:
    raise TrainingDivergedError(
        f"{where}: {', '.join(bad)} is not finite or has exploded. Training "
        "stopped; " + (f"the last good checkpoint is {latest_checkpoint}"
                       if latest_checkpoint else "no checkpoint was written")
        + ". Lower the learning rate or change --seed, then resume or "
        "restart.")


class Stop(Exception):
  """Raised inside a unit; carries the loop counters to resume from."""

  def __init__(self, counters: list[int]):
    super().__init__()
    self.counters = counters


def balanced_real_rows(num_real: int, num_negatives: int,
                       rng: np.random.Generator) -> np.ndarray | None:
  """Which real rows a D step uses: n = min(num_real, --num_negatives) of
  them, a fresh subset when there are more (None: all of them, in order).
  The step then samples n negatives, so the classes are always equal."""
  if num_real <= num_negatives:
    return None
  return rng.choice(num_real, num_negatives, False)



class PhaseWork:
  """The units of each phase, over one model, its real data and a stop
  signal."""

  def __init__(self, config: Config, model: SeqGAN, real: np.ndarray,
               stop: signals.StopSignal, ticker: progress.Ticker):
    self.config, self.model, self.stop, self.ticker = config, model, stop, ticker
    self.num_real = len(real)
    self.real = tf.constant(real)
    self.mle_batches = self.num_real // config.batch_size

  def check_stop(self, counters: Callable[[], list[int]]) -> None:
    if self.stop.agreed(self.model.strategy):
      raise Stop(counters())

  def batches(self, dataset: tf.data.Dataset, start: int, total: int,
              what: str, counters: Callable[[int], list[int]]):
    """Yields (index, batch) from batch `start` on, checking for a stop.

    Under a strategy each batch is split into the replicas' shares.
    """
    shares = distribute.distribute(self.model.strategy,
                                   lambda: dataset.skip(start),
                                   self.config.batch_size)
    for index, batch in enumerate(shares, start=start):
      self.check_stop(lambda: counters(index))
      yield index, batch
      self.ticker.tick(what, index + 1, total)

  def mle_epoch(self, epoch: int, counters: list[int]) -> Metrics:
    config = self.config
    dataset = input_pipeline.mle_dataset(self.real, config.batch_size,
                                         int_seed(config.seed, MLE, epoch))
    what = f"mle epoch {epoch + 1}, batch"
    truth_rate = baselines.ss_truth_rate(epoch, config.ss_decay)
    for index, tokens in self.batches(dataset, counters[0], self.mle_batches,
                                       what, lambda b: [b, 0, 0, 0]):
      if config.method == "ss":
        self.model.scheduled_sampling_step(
            tokens, tf.constant(truth_rate, tf.float32),
            stateless_seed(config.seed, MLE, epoch, index))
      else:
        self.model.mle_step(tokens)
    metrics = self.model.read_trackers("mle_loss")
    if config.method == "ss":
      metrics["ss_truth_rate"] = truth_rate
    return metrics

  def dis_data(self, path: tuple[int, ...]) -> tuple[tf.Tensor, tf.Tensor]:
    """Fresh negatives from G, and as many real sequences (equal classes)."""
    config = self.config
    rng = np.random.default_rng(int_seed(config.seed, *path, 2))
    real_rows = balanced_real_rows(self.num_real, config.num_negatives,
                                   rng)
    positives = self.real if real_rows is None else tf.gather(self.real,
                                                              real_rows)
    fake = self.model.sample(int(positives.shape[0]),
                             stateless_seed(config.seed, *path, 0))
    return positives, fake

  def train_dis(self, path: tuple[int, ...], start: list[int],
                counters: Callable[[int, int], list[int]], what: str) -> None:
    """One D step: fresh negatives, then --dis_epochs epochs from `start`."""
    config = self.config
    positives, fake = self.dis_data(path)
    batches = (positives.shape[0] + fake.shape[0]) // config.batch_size
    for epoch in range(start[0], config.dis_epochs):
      dataset = input_pipeline.dis_dataset(positives, fake, config.batch_size,
                                           int_seed(config.seed, *path, epoch))
      seed = stateless_seed(config.seed, *path, 1, epoch)
      first = start[1] if epoch == start[0] else 0
      for step, (tokens, labels) in self.batches(
          dataset, first, batches, f"{what}, D epoch {epoch + 1}, batch",
          lambda b, e=epoch: counters(e, b)):
        self.model.dis_step(tokens, labels, seed, tf.constant(step, tf.int32))

  def dis_pretrain_step(self, step: int, counters: list[int]) -> Metrics:
    self.train_dis((DIS_PRETRAIN, step), counters[:2],
                   lambda e, b: [e, b, 0, 0], f"D pre-training step {step + 1}")
    return self.model.read_trackers(*DIS_METRICS)

  def adversarial_iteration(self, it: int, counters: list[int]) -> Metrics:
    """{g-steps of policy gradient; d-steps of D}, from `counters` on."""
    config, model = self.config, self.model
    g_start, d_start, epoch, batch = counters
    if it == 0 and not any(counters):
      model.update_rollout_policy(rate=0.0)  # G_beta starts as a copy of G
    for g in range(g_start, config.adv_g_steps):
      self.check_stop(lambda: [g, 0, 0, 0])
      model.adversarial_generator_step(
          stateless_seed(config.seed, ADVERSARIAL, it, 0, g))
    for d in range(d_start, config.adv_d_steps):
      start = [epoch, batch] if d == d_start else [0, 0]
      self.train_dis((ADVERSARIAL, it, 1, d), start,
                     lambda e, b, d=d: [config.adv_g_steps, d, e, b],
                     f"iteration {it + 1}, D step {d + 1}")
    return model.read_trackers(*PG_METRICS,
                               *(DIS_METRICS if config.adv_d_steps else ()))

