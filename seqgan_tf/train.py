"""SeqGAN training: MLE pre-training, D pre-training, then the adversarial loop.

Every random draw is stateless and keyed by (seed, phase, counter), and the
counters live in the checkpoint, so a resumed run repeats exactly the draws an
uninterrupted one would have made. A run stopped by SIGTERM or Ctrl-C saves
where it was inside its unit (epoch, D step, iteration) down to the batch, and
resumes from there.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from seqgan_tf import (export, input_pipeline, progress, sampler, tasks,
                       tokenizer, workdir as workdir_lib)
from seqgan_tf.config import Config, ConfigError
from seqgan_tf.models import Generator
from seqgan_tf.state import (DIS_METRICS, PG_METRICS, POSITION_SIZE, SeqGAN,
                             policy_gradient_loss)

Metrics = dict[str, float]
__all__ = ["SeqGAN", "policy_gradient_loss", "train_and_evaluate"]

# Phase ids, used in seeds and in the checkpoint's position.
MLE, DIS_PRETRAIN, ADVERSARIAL, EVAL = 1, 2, 3, 4  # tasks.DATA_PHASE is 5
PHASE_NAMES = {MLE: "MLE pre-training", DIS_PRETRAIN: "D pre-training",
               ADVERSARIAL: "adversarial"}
EVAL_LABELS = {MLE: "mle", ADVERSARIAL: "adversarial"}  # eval_metrics.jsonl
UNIT_NAMES = {MLE: "MLE epoch", DIS_PRETRAIN: "D pre-training step",
              ADVERSARIAL: "adversarial iteration"}
# A mean token NLL this many times a uniform guess's log(V) has diverged,
# finite or not (a learning rate of 1e30 gave 1e31 without a NaN).
MAX_NLL_OVER_UNIFORM = 10.0
# Final samples with fewer distinct sequences than this share have collapsed.
MIN_DISTINCT = 0.5


class TrainingDivergedError(RuntimeError):
  """A loss became NaN, infinite or absurd; the last good checkpoint is kept."""


class StoppedError(RuntimeError):
  """A stop signal was handled: a checkpoint holds the exact position."""

  def __init__(self, message: str, signal_name: str):
    super().__init__(message)
    self.signal_name = signal_name


class _Stop(Exception):
  """Raised inside a unit; carries the loop counters to resume from."""

  def __init__(self, counters: list[int]):
    super().__init__()
    self.counters = counters


def stateless_seed(config: Config, *path: int) -> tf.Tensor:
  """A [2] int32 seed for the draw at `path` (phase, counters...)."""
  return sampler.seed_at(config.seed, *path)


def int_seed(config: Config, *path: int) -> int:
  """A Python int seed (tf.data shuffles) for the draw at `path`."""
  return int(np.random.SeedSequence([config.seed, *path]).generate_state(1)[0]
             % (2**31 - 1))


def balanced_real_rows(num_real: int, num_negatives: int,
                       rng: np.random.Generator) -> np.ndarray | None:
  """Which real rows a D step uses: n = min(num_real, --num_negatives) of
  them, a fresh subset when there are more (None: all of them, in order).
  The step then samples n negatives, so the classes are always equal."""
  if num_real <= num_negatives:
    return None
  return rng.choice(num_real, num_negatives, False)


def check_workdir(config: Config, workdir: str, write: bool = True) -> None:
  workdir_lib.check(config, workdir, write)


# -------------------------------------------------------------------- export
def serving_module(config: Config, workdir: str,
                   generator: Generator) -> export.GeneratorServing:
  """The generator with its task's vocabulary, ready to export."""
  tokens, level, reserved = tasks.serving_vocabulary(config, workdir)
  return export.GeneratorServing(generator, tokens, level, reserved)


def restore_generator(config: Config, workdir: str) -> Generator:
  """G from the workdir's latest readable checkpoint (no optimiser, no D)."""
  check_workdir(config, workdir, write=False)
  tokens, _, _ = tasks.serving_vocabulary(config, workdir)
  generator = Generator(len(tokens), config.gen_emb_dim, config.gen_hidden_dim,
                        config.seq_length, tasks.start_token(config),
                        name="generator")
  checkpoint = tf.train.Checkpoint(generator=generator)
  manager = tf.train.CheckpointManager(
      checkpoint, os.path.join(workdir, workdir_lib.CHECKPOINTS),
      max_to_keep=None)
  if workdir_lib.restore_latest(checkpoint, manager, partial=True) is None:
    raise ConfigError(f"{workdir} holds no readable checkpoint; train first.")
  return generator


def export_from_workdir(config: Config, workdir: str) -> str:
  """Exports the generator of the workdir's latest checkpoint (--mode=export)."""
  generator = restore_generator(config, workdir)
  path = export.export(serving_module(config, workdir, generator),
                       os.path.join(workdir, "export"), config.export_name)
  logging.info("Exported %s to %s", config.export_name, path)
  return path


# -------------------------------------------------------------------- loop
class Trainer:
  """Runs (or resumes) the schedule of one workdir."""

  def __init__(self, config: Config, workdir: str,
               stop: progress.StopSignal):
    self.config, self.workdir, self.stop = config, workdir, stop
    self.task = tasks.build(config, workdir)
    if len(self.task.real) < config.batch_size:
      raise input_pipeline.DataError(
          f"the training data hold {len(self.task.real)} sequences, fewer "
          f"than one batch (--batch_size={config.batch_size}); lower "
          "--batch_size or use a larger corpus.")
    self.real = tf.constant(self.task.real)
    self.model = SeqGAN(config, self.task.vocab_size, self.task.start_token,
                        tasks.end_token(config))
    self.checkpoint = self.model.checkpoint()
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, os.path.join(workdir, workdir_lib.CHECKPOINTS),
        max_to_keep=config.keep_checkpoints)
    self.writer = tf.summary.create_file_writer(
        os.path.join(workdir, "tensorboard"))
    self.ticker = progress.Ticker(config.progress_secs)
    self.mle_batches = len(self.task.real) // config.batch_size

  # ---------------------------------------------------------------- state
  def restore(self) -> None:
    model, config = self.model, self.config
    restored = workdir_lib.restore_latest(self.checkpoint, self.manager)
    if restored is None:
      return
    # Keras keeps learning rates in (checkpointed) variables: the flags win.
    model.mle_optimizer.learning_rate = config.gen_learning_rate
    model.pg_optimizer.learning_rate = config.gen_learning_rate
    model.dis_optimizer.learning_rate = config.dis_learning_rate
    logging.info("Resumed from %s: %d MLE epochs, %d D pre-training steps, "
                 "%d adversarial iterations done%s.", restored,
                 int(model.mle_epochs_done), int(model.dis_pretrain_steps_done),
                 int(model.adv_iterations_done), self._where())

  def _where(self) -> str:
    phase, *counters = [int(v) for v in self.model.position.numpy()]
    if phase == 0:
      return ""
    return f"; inside the next {PHASE_NAMES[phase]} unit at {counters}"

  def save(self, why: str) -> str:
    path = self.manager.save()
    logging.info("Checkpoint %s written (%s).", path, why)
    return path

  def _counters(self, phase: int) -> list[int]:
    """Where to start inside the next unit of `phase` (zeros: its start)."""
    position = [int(v) for v in self.model.position.numpy()]
    return position[1:] if position[0] == phase else [0] * (POSITION_SIZE - 1)

  def _check_stop(self, counters: Callable[[], list[int]]) -> None:
    if self.stop.requested:
      raise _Stop(counters())

  def _batches(self, dataset: tf.data.Dataset, start: int, total: int,
               what: str, counters: Callable[[int], list[int]]):
    """Yields (index, batch) from batch `start` on, checking for a stop."""
    for index, batch in enumerate(dataset.skip(start), start=start):
      self._check_stop(lambda: counters(index))
      yield index, batch
      self.ticker.tick(what, index + 1, total)

  # ---------------------------------------------------------------- units
  def mle_epoch(self, epoch: int, counters: list[int]) -> Metrics:
    config = self.config
    dataset = input_pipeline.mle_dataset(self.real, config.batch_size,
                                         int_seed(config, MLE, epoch))
    what = f"mle epoch {epoch + 1}, batch"
    for _, tokens in self._batches(dataset, counters[0], self.mle_batches,
                                   what, lambda b: [b, 0, 0, 0]):
      self.model.mle_step(tokens)
    return self.model.read_trackers("mle_loss")

  def _dis_data(self, path: tuple[int, ...]) -> tuple[tf.Tensor, tf.Tensor]:
    """Fresh negatives from G, and as many real sequences (equal classes)."""
    config = self.config
    rng = np.random.default_rng(int_seed(config, *path, 2))
    real_rows = balanced_real_rows(len(self.task.real), config.num_negatives,
                                   rng)
    positives = self.real if real_rows is None else tf.gather(self.real,
                                                              real_rows)
    fake = self.model.sample(int(positives.shape[0]),
                             stateless_seed(config, *path, 0))
    return positives, fake

  def train_dis(self, path: tuple[int, ...], start: list[int],
                counters: Callable[[int, int], list[int]], what: str) -> None:
    """One D step: fresh negatives, then --dis_epochs epochs from `start`."""
    config = self.config
    positives, fake = self._dis_data(path)
    batches = (positives.shape[0] + fake.shape[0]) // config.batch_size
    for epoch in range(start[0], config.dis_epochs):
      dataset = input_pipeline.dis_dataset(positives, fake, config.batch_size,
                                           int_seed(config, *path, epoch))
      seed = stateless_seed(config, *path, 1, epoch)
      first = start[1] if epoch == start[0] else 0
      for step, (tokens, labels) in self._batches(
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
      self._check_stop(lambda: [g, 0, 0, 0])
      model.adversarial_generator_step(
          stateless_seed(config, ADVERSARIAL, it, 0, g))
    for d in range(d_start, config.adv_d_steps):
      start = [epoch, batch] if d == d_start else [0, 0]
      self.train_dis((ADVERSARIAL, it, 1, d), start,
                     lambda e, b, d=d: [config.adv_g_steps, d, e, b],
                     f"iteration {it + 1}, D step {d + 1}")
    return model.read_trackers(*PG_METRICS, *DIS_METRICS)

  # ---------------------------------------------------------------- phases
  def run_phase(self, phase: int, done: tf.Variable, total: int,
                unit: Callable[[int, list[int]], Metrics], prefix: str,
                first_step: int | None) -> None:
    """The one loop of every phase: units, checks, logs, evals, checkpoints.

    `first_step` is the global step of this phase's unit 0 on the evaluation
    axis (None: the phase is not evaluated).
    """
    config = self.config
    start = int(done)
    clock = progress.PhaseClock(UNIT_NAMES[phase], total, start)
    for index in range(start, total):
      self.ticker.restart()
      try:
        metrics = unit(index, self._counters(phase))
      except _Stop as stop:
        self.model.position.assign([phase, *stop.counters])
        path = self.save(f"stopped by {self.stop.requested} inside "
                         f"{PHASE_NAMES[phase]} unit {index + 1}")
        raise StoppedError(
            f"Stopped by {self.stop.requested}; {path} holds the position "
            f"inside {PHASE_NAMES[phase]} unit {index + 1}. Run the same "
            "command to resume from there.", self.stop.requested) from None
      self._check_finite(metrics, phase, index + 1)
      done.assign(index + 1)
      self.model.position.assign(tf.zeros([POSITION_SIZE], tf.int64))
      step = index + 1 if first_step is None else first_step + index + 1
      self.write_scalars(step, prefix, metrics)
      logging.info(clock.line(index + 1, metrics))
      last = index + 1 == total
      if first_step is not None and ((index + 1) % config.eval_every == 0
                                     or last):
        self.evaluate(step, EVAL_LABELS[phase])
      if (index + 1) % config.checkpoint_every == 0 or last:
        self.save(f"{PHASE_NAMES[phase]} {index + 1}/{total}")

  def _check_finite(self, metrics: Metrics, phase: int, step: int) -> None:
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    limit = MAX_NLL_OVER_UNIFORM * math.log(self.task.vocab_size)
    if metrics.get("mle_loss", 0.0) > limit:
      bad.append(f"mle_loss ({metrics['mle_loss']:.4g} > {limit:.4g}, "
                 f"{MAX_NLL_OVER_UNIFORM:g} x a uniform guess)")
    if bad:
      raise TrainingDivergedError(
          f"{PHASE_NAMES[phase]} step {step}: {', '.join(bad)} is not finite "
          f"or has exploded. Training stopped; the last good checkpoint is "
          f"{self.manager.latest_checkpoint}. Lower the learning rate or "
          "change --seed, then resume or restart.")

  # ---------------------------------------------------------------- output
  def write_scalars(self, step: int, prefix: str, metrics: Metrics) -> None:
    with self.writer.as_default(step=step):
      for k, v in metrics.items():
        tf.summary.scalar(f"{prefix}/{k}", v)

  def evaluate(self, global_step: int, phase: str,
               final: bool = False) -> Metrics:
    """Task metrics of G, to TensorBoard, eval_metrics.jsonl and the log."""
    t0 = time.perf_counter()
    metrics, texts, per_sample = self.task.evaluate(
        self.model.generator,
        stateless_seed(self.config, EVAL, global_step, int(final)), final)
    if per_sample:
      buffer = io.BytesIO()
      np.savez(buffer, **per_sample)
      workdir_lib.write_atomic(
          os.path.join(self.workdir, workdir_lib.SCORES_FILE),
          buffer.getvalue())
    with self.writer.as_default(step=global_step):
      for name, value in metrics.items():
        tf.summary.scalar(("final/" if final else "") + name, value)
      tf.summary.text("samples", tf.constant(texts))
    with tf.io.gfile.GFile(os.path.join(self.workdir, "eval_metrics.jsonl"),
                           "a") as f:
      f.write(json.dumps({"global_step": global_step, "phase": phase,
                          "final": final, **metrics}) + "\n")
    logging.info("[%s] global step %d: %s (%.1f s)", phase, global_step,
                 " ".join(f"{k}={v:.4f}" for k, v in metrics.items()),
                 time.perf_counter() - t0)
    for text in texts[:3]:
      logging.info("  sample: %s", text)
    return metrics

  def write_hparams(self) -> None:
    """The run's configuration and headline metrics for HParams."""
    from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
    values = {k: (str(v) if isinstance(v, (tuple, list)) else v)
              for k, v in json.loads(self.config.to_json()).items()}
    metrics = [hp.Metric(("final/" if final else "") + name)
               for final in (True, False) for name in self.task.metric_names]
    with self.writer.as_default(step=0):
      hp.hparams_config(hparams=[hp.HParam(k) for k in values],
                        metrics=metrics)
      hp.hparams(values, trial_id=os.path.basename(
          os.path.abspath(self.workdir)))

  # ---------------------------------------------------------------- estimate
  def estimate(self) -> None:
    """Times each kind of step once (then undoes it) and logs the ETA."""
    config, model = self.config, self.model
    schedule = self.schedule_left()
    times = progress.StepTimes()
    snapshot = model.snapshot()

    def timed(fn: Callable[[], Any]) -> float:
      fn()                              # traces (needed later anyway)
      t0 = time.perf_counter()
      fn()
      return time.perf_counter() - t0

    if schedule.mle_epochs:
      tokens = self.real[:config.batch_size]
      times.mle_batch = timed(lambda: model.mle_step(tokens))
    if schedule.dis_pretrain_steps or schedule.adv_iterations:
      seed = stateless_seed(config, EVAL, -1)
      negatives = min(len(self.task.real), config.num_negatives)
      times.negatives = timed(lambda: model.sample(negatives, seed))
      tokens = self.real[:config.batch_size]
      labels = tf.ones([config.batch_size], tf.int32)
      times.dis_batch = timed(lambda: model.dis_step(
          tokens, labels, seed, tf.constant(0, tf.int32)))
    if schedule.adv_iterations:
      times.generator_step = timed(
          lambda: model.adversarial_generator_step(seed))
    if schedule.evaluations:
      times.evaluation = timed(lambda: self.task.evaluate(
          model.generator, stateless_seed(config, EVAL, -2), False))
    model.restore_snapshot(snapshot)
    progress.log_estimate(schedule, times)

  def schedule_left(self) -> progress.Schedule:
    config, model = self.config, self.model
    mle = config.pretrain_gen_epochs - int(model.mle_epochs_done)
    adv = config.adv_iterations - int(model.adv_iterations_done)
    evals = (max(mle, 0) + max(adv, 0)) // config.eval_every
    real = min(len(self.task.real), config.num_negatives)  # = negatives
    return progress.Schedule(
        mle_epochs=max(mle, 0), mle_batches=self.mle_batches,
        dis_pretrain_steps=max(config.pretrain_dis_steps
                               - int(model.dis_pretrain_steps_done), 0),
        dis_epochs=config.dis_epochs,
        dis_batches=2 * real // config.batch_size,
        adv_iterations=max(adv, 0), adv_g_steps=config.adv_g_steps,
        adv_d_steps=config.adv_d_steps, evaluations=evals,
        final_evaluation_scale=self.task.final_evaluation_scale)

  # ---------------------------------------------------------------- run
  def run(self) -> dict[str, Any]:
    config, model = self.config, self.model
    final_step = config.pretrain_gen_epochs + config.adv_iterations
    self.restore()
    results_path = os.path.join(self.workdir, workdir_lib.RESULTS_FILE)
    if (int(model.mle_epochs_done) >= config.pretrain_gen_epochs
        and int(model.dis_pretrain_steps_done) >= config.pretrain_dis_steps
        and int(model.adv_iterations_done) >= config.adv_iterations
        and tf.io.gfile.exists(results_path)):
      results = workdir_lib.read_json(
          results_path, "Move it away to evaluate and export the run again.")
      if results.get("global_step") == final_step:
        logging.info("Nothing to do: the run is complete; results in %s: %s",
                     results_path, json.dumps(results))
        return results
    self.write_hparams()
    self.estimate()

    if int(model.mle_epochs_done) == 0 and not any(self._counters(MLE)):
      if config.pretrain_gen_epochs > 0:
        self.evaluate(0, EVAL_LABELS[MLE])
    self.run_phase(MLE, model.mle_epochs_done, config.pretrain_gen_epochs,
                   self.mle_epoch, "generator", first_step=0)
    self.run_phase(DIS_PRETRAIN, model.dis_pretrain_steps_done,
                   config.pretrain_dis_steps, self.dis_pretrain_step,
                   "dis_pretrain", first_step=None)
    self.run_phase(ADVERSARIAL, model.adv_iterations_done,
                   config.adv_iterations, self.adversarial_iteration,
                   "adversarial", first_step=config.pretrain_gen_epochs)
    return self.finish(final_step)

  def finish(self, final_step: int) -> dict[str, Any]:
    """Final figures, results.json and the export (with any warning)."""
    results = self.evaluate(final_step, "final", final=True)
    results["global_step"] = final_step
    warnings = []
    if results.get("distinct", 1.0) < MIN_DISTINCT:
      warnings.append(
          f"the generator has collapsed: only {results['distinct']:.1%} of its "
          "final samples are distinct, so its scores do not measure a useful "
          "model. Lower the learning rates, or train again from an earlier "
          "checkpoint.")
    for warning in warnings:
      logging.warning("WARNING: %s", warning)
    if warnings:
      results["warnings"] = warnings
    self.writer.flush()
    path = export.export(serving_module(self.config, self.workdir,
                                        self.model.generator),
                         os.path.join(self.workdir, "export"),
                         self.config.export_name)
    results["export"] = path
    workdir_lib.write_atomic(os.path.join(self.workdir,
                                          workdir_lib.RESULTS_FILE),
                             json.dumps(results, indent=2))
    logging.info("Done: %s. Generator exported to %s%s", json.dumps(results),
                 path, " (with the WARNING above)" if warnings else "")
    return results


def train_and_evaluate(config: Config, workdir: str) -> dict[str, Any]:
  """Runs (or resumes) the whole schedule; returns the final metrics.

  Raises:
    StoppedError: SIGTERM or SIGINT arrived; a checkpoint holds the position.
    TrainingDivergedError: a loss became non-finite or exploded.
  """
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  keras.utils.set_random_seed(config.seed)
  check_workdir(config, workdir)
  with progress.StopSignal() as stop:
    return Trainer(config, workdir, stop).run()
