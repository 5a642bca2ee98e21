"""What a long run tells its user: progress lines and ETAs."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import tensorflow as tf
from absl import logging

from seqgan_tf import seeds


def duration(seconds: float) -> str:
  """'42 s', '12.5 min' or '3.2 h'."""
  if seconds < 120:
    return f"{seconds:.0f} s"
  if seconds < 7200:
    return f"{seconds / 60:.1f} min"
  return f"{seconds / 3600:.1f} h"


class Ticker:
  """A progress line every `every` seconds inside a long unit of work."""

  def __init__(self, every: float):
    self.every = every
    self._last = time.perf_counter()
    self._start = self._last
    self._count = 0

  def restart(self) -> None:
    self._start = self._last = time.perf_counter()
    self._count = 0

  def tick(self, what: str, done: int, total: int) -> None:
    """After step `done` of `total` of `what`: maybe logs rate and ETA."""
    now = time.perf_counter()
    self._count += 1
    if now - self._last < self.every:
      return
    self._last = now
    per_step = (now - self._start) / self._count
    logging.info("  %s: %d/%d (%.0f ms/step, %s left of it)", what, done,
                 total, 1e3 * per_step, duration(per_step * (total - done)))


@dataclasses.dataclass
class StepTimes:
  """Seconds of each kind of work, measured on this machine at start-up."""
  mle_batch: float = 0.0
  dis_batch: float = 0.0
  negatives: float = 0.0          # sampling --num_negatives sequences
  generator_step: float = 0.0     # sample, roll-out rewards, PG update
  evaluation: float = 0.0


@dataclasses.dataclass
class Schedule:
  """The work left in each phase, in the units the loop counts."""
  mle_epochs: int
  mle_batches: int                # per epoch
  dis_pretrain_steps: int
  dis_epochs: int                 # per D step
  dis_batches: int                # per D epoch
  adv_iterations: int
  adv_g_steps: int
  adv_d_steps: int
  evaluations: int
  final_evaluation_scale: float   # cost of the final evaluation / a normal one
  mle_at_most: bool = False       # early stopping: mle_epochs is a maximum

  @classmethod
  def left(cls, config, done: tuple[int, int, int], num_real: int,
           final_evaluation_scale: float) -> "Schedule":
    """What is left of `config`'s schedule after `done` = (MLE epochs, D
    pre-training steps, adversarial iterations)."""
    mle = max(config.pretrain_gen_epochs - done[0], 0)
    adv = max(config.adv_iterations - done[2], 0)
    real = min(num_real, config.num_negatives)     # = negatives per D step
    return cls(
        mle_epochs=mle, mle_batches=num_real // config.batch_size,
        dis_pretrain_steps=max(config.pretrain_dis_steps - done[1], 0),
        dis_epochs=config.dis_epochs,
        dis_batches=2 * real // config.batch_size, adv_iterations=adv,
        adv_g_steps=config.adv_g_steps, adv_d_steps=config.adv_d_steps,
        evaluations=(mle + adv) // config.eval_every,
        final_evaluation_scale=final_evaluation_scale,
        mle_at_most=config.mle_patience > 0)

  def seconds(self, t: StepTimes) -> dict[str, float]:
    """Estimated seconds of each phase and of the evaluations."""
    dis_step = t.negatives + self.dis_epochs * self.dis_batches * t.dis_batch
    return {
        "MLE": self.mle_epochs * self.mle_batches * t.mle_batch,
        "D pre-training": self.dis_pretrain_steps * dis_step,
        "adversarial": self.adv_iterations * (
            self.adv_g_steps * t.generator_step + self.adv_d_steps * dis_step),
        "evaluation": t.evaluation * (self.evaluations
                                      + self.final_evaluation_scale),
    }


def time_steps(schedule: Schedule,
               steps: dict[str, Callable[[], Any]]) -> StepTimes:
  """Seconds of one call of each step the schedule still needs.

  Each is called twice and the second call timed: the first traces it, which
  the run needs anyway. The caller undoes what the steps changed.
  """
  trains_dis = (schedule.dis_pretrain_steps > 0
                or schedule.adv_iterations * schedule.adv_d_steps > 0)
  needed = {"mle_batch": schedule.mle_epochs > 0,
            "negatives": trains_dis,
            "dis_batch": trains_dis,
            "generator_step": schedule.adv_iterations > 0,
            "evaluation": schedule.evaluations > 0}
  times = StepTimes()
  for name, step in steps.items():
    if needed[name]:
      step()
      t0 = time.perf_counter()
      step()
      setattr(times, name, time.perf_counter() - t0)
  return times


def fit_to_budget(schedule: Schedule, times: StepTimes,
                  minutes: float) -> tuple[int, int, str]:
  """MLE epochs and adversarial iterations left that fit `minutes`.

  Only ever fewer than `schedule` has left, at least 1 of each phase that has
  any. D pre-training and the final evaluation are fixed costs; each MLE epoch
  and iteration also carries its share of the periodic evaluations. When both
  phases do not fit, each may take half of what is left, and a phase that
  needs less than its half leaves the rest to the other.

  Returns:
    (MLE epochs, adversarial iterations, a sentence saying why).
  """
  costs = schedule.seconds(times)
  per_eval = times.evaluation * schedule.evaluations / max(
      schedule.mle_epochs + schedule.adv_iterations, 1)
  per_epoch = costs["MLE"] / max(schedule.mle_epochs, 1) + per_eval
  per_iteration = (costs["adversarial"] / max(schedule.adv_iterations, 1)
                   + per_eval)
  need_mle = schedule.mle_epochs * per_epoch
  need_adv = schedule.adv_iterations * per_iteration
  left = (60.0 * minutes - costs["D pre-training"]
          - times.evaluation * schedule.final_evaluation_scale)
  if need_mle + need_adv <= left:
    return (schedule.mle_epochs, schedule.adv_iterations,
            f"the whole schedule fits {minutes:g} min")

  def units(total: int, share: float, each: float) -> int:
    return total and min(total, max(1, int(share // each)))

  half = left / 2
  if need_mle <= half:     # MLE keeps its epochs, the iterations the rest
    mle = schedule.mle_epochs
    adv = units(schedule.adv_iterations, left - need_mle, per_iteration)
  elif need_adv <= half:
    mle = units(schedule.mle_epochs, left - need_adv, per_epoch)
    adv = schedule.adv_iterations
  else:
    mle = units(schedule.mle_epochs, half, per_epoch)
    adv = units(schedule.adv_iterations, half, per_iteration)
  return mle, adv, (
      f"{schedule.mle_epochs} MLE epochs of {duration(per_epoch)} and "
      f"{schedule.adv_iterations} adversarial iterations of "
      f"{duration(per_iteration)} would take {duration(need_mle + need_adv)} "
      f"of the {duration(max(left, 0))} that D pre-training and the final "
      f"evaluation leave of {minutes:g} min")


def log_estimate(schedule: Schedule, times: StepTimes) -> None:
  logging.info("%s", estimate_line(schedule, times))


def estimate_line(schedule: Schedule, times: StepTimes) -> str:
  """The estimated time of the schedule left (with early stopping, an upper
  bound: every MLE epoch it allows) and the step times it came from."""
  parts = schedule.seconds(times)
  at_most = "at most " if schedule.mle_at_most and parts["MLE"] > 0 else ""
  if at_most:
    parts = {(f"MLE of at most {schedule.mle_epochs} epochs (early "
              "stopping)" if k == "MLE" else k): v for k, v in parts.items()}
  measured = {"MLE batch": times.mle_batch, "D batch": times.dis_batch,
              "sampling the negatives": times.negatives,
              "G step": times.generator_step, "evaluation": times.evaluation}
  return ("Estimated time of the rest of the run on this machine: "
          f"{at_most}{duration(sum(parts.values()))} ("
          + ", ".join(f"{k} {duration(v)}" for k, v in parts.items() if v > 0)
          + "). Measured: "
          + ", ".join(f"{k} {v * 1e3:.0f} ms" if v < 1 else f"{k} {v:.2f} s"
                      for k, v in measured.items() if v > 0) + ".")


class PhaseClock:
  """Seconds per unit of a phase: the last unit's and the mean."""

  def __init__(self, name: str, total: int, start: int):
    self.name, self.total, self.start = name, total, start
    self._t0 = self._last = time.perf_counter()

  def line(self, done: int, metrics: dict[str, float]) -> str:
    now = time.perf_counter()
    last, self._last = now - self._last, now
    mean = (now - self._t0) / max(done - self.start, 1)
    values = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    return (f"{self.name} {done}/{self.total} {values} ({last:.1f} s this "
            f"unit, {mean:.1f} s mean, phase eta "
            f"{duration(mean * (self.total - done))})")


def estimate(config, model, task, real) -> tuple[Schedule, StepTimes]:
  """Times each kind of step the run has left once, undoes them, and logs
  the estimated time of the rest of the run.

  Args:
    config: the run's Config.
    model: its state.SeqGAN.
    task: its tasks.Task (the evaluation is timed too).
    real: [n, T] the real sequences G and D train on.

  Returns:
    The schedule left and the measured step times.
  """
  done = (int(model.mle_epochs_done), int(model.dis_pretrain_steps_done),
          int(model.adv_iterations_done))
  schedule = Schedule.left(config, done, len(task.real),
                           task.final_evaluation_scale)
  seed = seeds.stateless_seed(config.seed, seeds.SeedPath.EVAL, -1)
  tokens = real[:config.batch_size]
  labels = tf.ones([config.batch_size], tf.int32)
  negatives = min(len(task.real), config.num_negatives)
  steps = {
      "mle_batch": ((lambda: model.mle_step(tokens))
                    if config.method != "ss" else
                    lambda: model.scheduled_sampling_step(
                        tokens, tf.constant(0.5), seed)),
      "negatives": lambda: model.sample(negatives, seed),
      "dis_batch": lambda: model.dis_step(tokens, labels, seed,
                                          tf.constant(0, tf.int32)),
      "generator_step": lambda: model.adversarial_generator_step(seed),
      "evaluation": lambda: task.evaluate(
          model.generator,
          seeds.stateless_seed(config.seed, seeds.SeedPath.EVAL, -2), False),
  }
  snapshot = model.snapshot()
  times = time_steps(schedule, steps)
  model.restore_snapshot(snapshot)
  log_estimate(schedule, times)
  return schedule, times
