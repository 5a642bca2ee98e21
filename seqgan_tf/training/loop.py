"""SeqGAN training: MLE pre-training, D pre-training, then the adversarial loop.

Every random draw is stateless and keyed by (seed, phase, counter), and the
counters live in the checkpoint, so a resumed run repeats exactly the draws an
uninterrupted one would have made. A run stopped by SIGTERM or Ctrl-C saves
where it was inside its unit (epoch, D step, iteration) down to the batch, and
resumes from there.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable

import keras
import tensorflow as tf
from absl import logging

from seqgan_tf import config as config_lib, export, tasks
from seqgan_tf.config import Config
from seqgan_tf.data import input_pipeline
from seqgan_tf.seeds import SeedPath, stateless_seed
from seqgan_tf.training import (distribute, early_stopping, phases,
                                precision, progress, signals, summaries,
                                workdir as workdir_lib)
from seqgan_tf.training.state import Position, SeqGAN

Metrics = dict[str, float]

MLE, DIS_PRETRAIN, ADVERSARIAL, EVAL = (
    SeedPath.MLE, SeedPath.DIS_PRETRAIN, SeedPath.ADVERSARIAL, SeedPath.EVAL)

PHASE_NAMES = {MLE: "MLE pre-training", DIS_PRETRAIN: "D pre-training",
               ADVERSARIAL: "adversarial"}
EVAL_LABELS = {MLE: "mle", ADVERSARIAL: "adversarial"}  # eval_metrics.jsonl
PHASE_KEYS = {MLE: "mle", DIS_PRETRAIN: "dis_pretrain",   # results.json
              ADVERSARIAL: "adversarial"}
UNIT_NAMES = {MLE: "MLE epoch", DIS_PRETRAIN: "D pre-training step",
              ADVERSARIAL: "adversarial iteration"}
# Final samples with fewer distinct sequences than this share have collapsed.
MIN_DISTINCT = 0.5


TrainingDivergedError = phases.TrainingDivergedError


class StoppedError(RuntimeError):
  """A stop signal was handled: a checkpoint holds the exact position."""

  def __init__(self, message: str, signal_name: str):
    super().__init__(message)
    self.signal_name = signal_name


# -------------------------------------------------------------------- loop
class Trainer:
  """Runs (or resumes) the schedule of one workdir."""

  def __init__(self, config: Config, workdir: str,
               stop: signals.StopSignal,
               strategy: tf.distribute.Strategy | None = None):
    self.config, self.stop = config, stop
    # Over several machines every worker saves (TF needs it), but only the
    # chief's files are the run: the others write theirs in a folder of their
    # own inside it, and all restore from the chief's checkpoints.
    self.workdir = workdir if distribute.is_chief() else os.path.join(
        workdir, distribute.worker_folder())
    self.task = tasks.build(config, workdir)
    if len(self.task.real) < config.batch_size:
      raise input_pipeline.DataError(
          f"the training data hold {len(self.task.real)} sequences, fewer "
          f"than one batch (--batch_size={config.batch_size}); lower "
          "--batch_size or use a larger corpus.")
    reward = (tasks.bleu_reward(config, self.task)
              if config.method == "pg_bleu" else None)
    self.model = SeqGAN(config, self.task.vocab_size, self.task.start_token,
                        tasks.end_token(config), reward, strategy)
    self.checkpoint = self.model.checkpoint()
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, os.path.join(self.workdir, workdir_lib.CHECKPOINTS),
        max_to_keep=config.keep_checkpoints)
    self.chief_manager = self.manager if self.workdir == workdir else (
        tf.train.CheckpointManager(
            self.checkpoint, os.path.join(workdir, workdir_lib.CHECKPOINTS),
            max_to_keep=config.keep_checkpoints))
    self.log = summaries.RunLog(self.workdir)
    self.ticker = progress.Ticker(config.progress_secs)
    real, self.early_stopping = self.task.real, None
    if config.mle_patience:    # G and D never see the validation split
      real, validation = early_stopping.split(real, config.validation_every)
      self.early_stopping = early_stopping.EarlyStopping(
          self.model, validation, tasks.end_token(config), config.mle_patience)
    self.phases = phases.PhaseWork(config, self.model, real, stop,
                                   self.ticker)
    self.clock = workdir_lib.WallClock(self.workdir)

  # ---------------------------------------------------------------- state
  def restore(self) -> None:
    model, config = self.model, self.config
    restored = workdir_lib.restore_latest(self.checkpoint, self.chief_manager)
    if restored is None and config.init_from:
      restored = workdir_lib.restore_from(self.checkpoint, config.init_from,
                                          config)
      logging.info("Starting from %s (--init_from).", restored)
    elif restored is not None:
      self.clock.resume()
    if restored is None:
      return
    # Keras keeps learning rates in (checkpointed) variables: the flags win.
    model.mle_optimizer.learning_rate = config.gen_learning_rate
    model.pg_optimizer.learning_rate = config.policy_gradient_learning_rate
    model.dis_optimizer.learning_rate = config.dis_learning_rate
    logging.info("Resumed from %s: %d MLE epochs, %d D pre-training steps, "
                 "%d adversarial iterations done%s.", restored,
                 int(model.mle_epochs_done), int(model.dis_pretrain_steps_done),
                 int(model.adv_iterations_done), self._where())

  def _where(self) -> str:
    position = self.model.read_position()
    if position.phase == 0:
      return ""
    return (f"; inside the next {PHASE_NAMES[position.phase]} unit at "
            f"{list(position.counters)}")

  def save(self, why: str) -> str:
    path = self.manager.save()
    self.clock.record(path)
    logging.info("Checkpoint %s written (%s).", path, why)
    return path

  def _counters(self, phase: int) -> list[int]:
    """Where to start inside the next unit of `phase` (zeros: its start)."""
    position = self.model.read_position()
    return list(position.counters if position.phase == phase
                else Position().counters)

  # ---------------------------------------------------------------- phases
  def run_phase(self, phase: int, done: tf.Variable, total: int,
                unit: Callable[[int, list[int]], Metrics], prefix: str,
                first_step: int | None,
                stop_after: Callable[[int, int, Metrics], bool] | None = None
                ) -> None:
    """The one loop of every phase: units, checks, logs, evals, checkpoints.

    `first_step` is the global step of this phase's unit 0 on the evaluation
    axis (None: the phase is not evaluated). `stop_after(index, total,
    metrics)` may add to a unit's metrics and end the phase after it.
    """
    config = self.config
    start = int(done)
    clock = progress.PhaseClock(UNIT_NAMES[phase], total, start)
    for index in range(start, total):
      self.ticker.restart()
      started = time.monotonic()
      try:
        metrics = unit(index, self._counters(phase))
      except phases.Stop as stop:
        self.model.save_position(Position(phase, tuple(stop.counters)))
        path = self.save(f"stopped by {self.stop.stopping} inside "
                         f"{PHASE_NAMES[phase]} unit {index + 1}")
        raise StoppedError(
            f"Stopped by {self.stop.stopping}; {path} holds the position "
            f"inside {PHASE_NAMES[phase]} unit {index + 1}. Run the same "
            "command to resume from there.", self.stop.stopping) from None
      phases.check_finite(metrics, self.task.vocab_size,
                             f"{PHASE_NAMES[phase]} step {index + 1}",
                             self.manager.latest_checkpoint)
      self.clock.add(PHASE_KEYS[phase], time.monotonic() - started)
      ended = stop_after is not None and stop_after(index, total, metrics)
      done.assign(total if ended else index + 1)
      self.model.save_position(Position())
      step = index + 1 if first_step is None else first_step + index + 1
      self.log.scalars(step, prefix, metrics)
      logging.info(clock.line(index + 1, metrics))
      last = ended or index + 1 == total
      if first_step is not None and ((index + 1) % config.eval_every == 0
                                     or last):
        self.evaluate(step, EVAL_LABELS[phase])
      if (index + 1) % config.checkpoint_every == 0 or last:
        self.save(f"{PHASE_NAMES[phase]} {index + 1}/{total}")
      if ended:
        break

  # ---------------------------------------------------------------- output
  def evaluate(self, global_step: int, phase: str,
               final: bool = False) -> Metrics:
    """Task metrics of G, recorded (summaries.RunLog) and returned."""
    t0 = time.perf_counter()
    metrics, texts, per_sample = self.task.evaluate(
        self.model.generator,
        stateless_seed(self.config.seed, EVAL, global_step, int(final)), final)
    self.log.evaluation(global_step, phase, final, metrics, texts, per_sample,
                        time.perf_counter() - t0)
    return metrics

  def estimate(self) -> None:
    """Times each kind of step once (then undoes it) and logs the ETA; with
    --time_budget_minutes, first fits the schedule to it."""
    schedule, times = progress.estimate(self.config, self.model, self.task,
                                        self.phases.real)
    if self.config.time_budget_minutes:
      self.fit_schedule(schedule, times)

  def fit_schedule(self, schedule: progress.Schedule,
                   times: progress.StepTimes) -> None:
    """Scales the MLE epochs and adversarial iterations left down to fit
    --time_budget_minutes, and records the fitted schedule (budget spent: 0)
    in config.json, so that a resumed run keeps it whatever its timing."""
    config, model = self.config, self.model
    fitted = {"time_budget_minutes": 0.0}     # a field changes only if cut
    if config.deterministic:
      logging.info("--time_budget_minutes is not applied under "
                   "--deterministic (a schedule fitted to timing would tie "
                   "the results to the machine's load): the schedule as "
                   "given.")
    else:
      if distribute.is_multi_worker(model.strategy):   # all fit the same
        replicas = model.strategy.num_replicas_in_sync
        times = progress.StepTimes(*[v / replicas for v in (
            distribute.sum_over_workers(model.strategy, list(
                dataclasses.astuple(times))))])
      mle, adv, why = progress.fit_to_budget(schedule, times,
                                             config.time_budget_minutes)
      if mle < schedule.mle_epochs:
        fitted["pretrain_gen_epochs"] = int(model.mle_epochs_done) + mle
      if adv < schedule.adv_iterations:
        fitted["adv_iterations"] = int(model.adv_iterations_done) + adv
      logging.info("--time_budget_minutes=%g: %d MLE epochs and %d "
                   "adversarial iterations (%s).", config.time_budget_minutes,
                   fitted.get("pretrain_gen_epochs",
                              config.pretrain_gen_epochs),
                   fitted.get("adv_iterations", config.adv_iterations), why)
    self.config = self.phases.config = config_lib.replace(config, **fitted)
    if distribute.is_chief():
      workdir_lib.record_schedule(self.workdir, self.config)
    if len(fitted) > 1:
      progress.log_estimate(progress.Schedule.left(
          self.config, (int(model.mle_epochs_done),
                        int(model.dis_pretrain_steps_done),
                        int(model.adv_iterations_done)),
          len(self.task.real), self.task.final_evaluation_scale), times)

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
    self.estimate()
    config = self.config                   # fitted to its time budget
    final_step = config.pretrain_gen_epochs + config.adv_iterations
    self.log.hparams(config, self.task.metric_names)

    if int(model.mle_epochs_done) == 0 and not any(self._counters(MLE)):
      if config.pretrain_gen_epochs > 0:
        self.evaluate(0, EVAL_LABELS[MLE])
    work = self.phases
    self.run_phase(MLE, model.mle_epochs_done, config.pretrain_gen_epochs,
                   work.mle_epoch, "generator", first_step=0,
                   stop_after=self.early_stopping and
                   self.early_stopping.after_epoch)
    self.run_phase(DIS_PRETRAIN, model.dis_pretrain_steps_done,
                   config.pretrain_dis_steps, work.dis_pretrain_step,
                   "dis_pretrain", first_step=None)
    self.run_phase(ADVERSARIAL, model.adv_iterations_done,
                   config.adv_iterations, work.adversarial_iteration,
                   "adversarial", first_step=config.pretrain_gen_epochs)
    return self.finish(final_step)

  def finish(self, final_step: int) -> dict[str, Any]:
    """Final figures, results.json and the export (with any warning)."""
    results = self.evaluate(final_step, "final", final=True)
    results["global_step"] = final_step
    if self.config.mle_patience:   # early stopping's pick (1-based epoch)
      results["mle_best_epoch"] = int(self.model.mle_best_epoch) + 1
      results["mle_val_nll"] = float(self.model.mle_best_nll)
    results["wall_seconds"] = round(self.clock.seconds(), 1)
    # Training time of each phase's units (evaluations and saves aside).
    results["phase_seconds"] = {k: round(v, 1)
                                for k, v in self.clock.phases.items()}
    timed = self.clock.units.get("adversarial", 0)   # iterations timed
    if timed:
      results["seconds_per_iteration"] = round(
          self.clock.phases["adversarial"] / timed, 2)
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
    self.log.flush()
    path = export.export(export.serving_module(self.config, self.workdir,
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
  strategy = distribute.make_strategy(config.strategy)
  if distribute.is_chief():   # the other workers follow the chief's run
    workdir_lib.check(config, workdir)
  # Before the seed: the timing probe must not move the run's random state.
  config = precision.resolve(config, strategy)
  keras.utils.set_random_seed(config.seed)
  with signals.StopSignal() as stop:
    return Trainer(config, workdir, stop, strategy).run()
