"""The training loop in-process: stop signals, exact resume, divergence.

Faults are injected at known points (a SIGTERM sent from inside a step, a
loss replaced by NaN or 1e31), so nothing depends on timing or on float
overflow.
"""

import json
import math
import os
import signal
from unittest import mock

import numpy as np
import tensorflow as tf

from conftest import smoke_config
from seqgan_tf import config as config_lib, tasks
from seqgan_tf.seeds import SeedPath
from seqgan_tf.training import loop, phases, workdir as workdir_lib


def evals(workdir):
  with open(os.path.join(workdir, "eval_metrics.jsonl")) as f:
    return [(e["global_step"], e["phase"], e["nll_oracle"])
            for e in map(json.loads, f)]


def sigterm_at(batches_call, index):
  """Patches PhaseWork.batches to send SIGTERM at one (call, batch index)."""
  original = phases.PhaseWork.batches
  calls = []

  def batches(self_, dataset, start, total, what, counters):
    calls.append(what)
    for i, batch in original(self_, dataset, start, total, what, counters):
      if len(calls) == batches_call and i == index:
        os.kill(os.getpid(), signal.SIGTERM)
      yield i, batch
  return mock.patch.object(phases.PhaseWork, "batches", batches)


def sigterm_after_first_generator_step():
  """Patches the model's G step (after start-up timing) to send SIGTERM."""
  original = loop.Trainer.estimate

  def estimate(trainer):
    original(trainer)
    step = trainer.model.adversarial_generator_step

    def step_then_signal(seed):
      out = step(seed)
      os.kill(os.getpid(), signal.SIGTERM)
      return out
    trainer.model.adversarial_generator_step = step_then_signal
  return mock.patch.object(loop.Trainer, "estimate", estimate)


class StopAndResumeTest(tf.test.TestCase):

  def _stop(self, fault, config, workdir, where, position):
    """Runs until `fault` sends SIGTERM; checks the message and position."""
    with fault:
      with self.assertRaisesRegex(loop.StoppedError, f"inside {where}"):
        loop.train_and_evaluate(config, workdir)
    ckpt = tf.train.load_checkpoint(os.path.join(workdir, "checkpoints"))
    self.assertAllEqual(ckpt.get_tensor("position/.ATTRIBUTES/VARIABLE_VALUE"),
                        position)
    return ckpt

  def test_stops_inside_units_resume_bit_identical(self):
    config = smoke_config(deterministic=True, adv_g_steps=2)
    whole = self.create_tempdir().full_path
    expected = loop.train_and_evaluate(config, whole)

    pieces = self.create_tempdir().full_path
    # 1. Inside MLE epoch 2, before its batch 5 (index 4).
    ckpt = self._stop(sigterm_at(batches_call=2, index=3), config, pieces,
                      "MLE pre-training unit 2", [SeedPath.MLE, 4, 0, 0, 0])
    self.assertEqual(ckpt.get_tensor(
        "mle_epochs_done/.ATTRIBUTES/VARIABLE_VALUE"), 1)
    # 2. Between the two G steps of adversarial iteration 1.
    self._stop(sigterm_after_first_generator_step(), config, pieces,
               "adversarial unit 1", [SeedPath.ADVERSARIAL, 1, 0, 0, 0])
    with open(os.path.join(pieces, workdir_lib.WALL_CLOCK_FILE)) as f:
      mle_seconds = json.load(f)["phases"]["mle"]   # MLE is over by now
    self.assertGreater(mle_seconds, 0.0)
    # 3. Inside the D step of adversarial iteration 2, before its batch 3.
    self._stop(sigterm_at(batches_call=2, index=1), config, pieces,
               "adversarial unit 2", [SeedPath.ADVERSARIAL, 2, 0, 0, 2])
    # 4. To the end.
    resumed = loop.train_and_evaluate(config, pieces)
    self.assertEqual(resumed["nll_oracle"], expected["nll_oracle"])
    self.assertEqual(evals(pieces), evals(whole))   # no evaluation twice
    # The MLE time of the first starts is carried into the final record.
    self.assertEqual(resumed["phase_seconds"]["mle"], round(mle_seconds, 1))
    self.assertIs(signal.getsignal(signal.SIGTERM), signal.SIG_DFL)


class DivergenceTest(tf.test.TestCase):

  def _run_with_mle_loss(self, value):
    """A smoke run whose 3rd MLE epoch reports `value` as its loss."""
    original = phases.PhaseWork.mle_epoch

    def mle_epoch(self_, epoch, counters):
      metrics = original(self_, epoch, counters)
      return {"mle_loss": value} if epoch == 2 else metrics
    workdir = self.create_tempdir().full_path
    with mock.patch.object(phases.PhaseWork, "mle_epoch", mle_epoch):
      with self.assertRaises(loop.TrainingDivergedError) as error:
        loop.train_and_evaluate(smoke_config(), workdir)
    return workdir, str(error.exception)

  def test_nan_loss_stops_and_keeps_last_good_checkpoint(self):
    workdir, message = self._run_with_mle_loss(math.nan)
    self.assertIn("MLE pre-training step 3: mle_loss is not finite", message)
    self.assertIn("ckpt-2", message)
    with open(os.path.join(workdir, "checkpoints", "checkpoint")) as f:
      self.assertIn('model_checkpoint_path: "ckpt-2"', f.read())
    self.assertFalse(os.path.exists(os.path.join(workdir, "export")))

  def test_finite_exploded_loss_also_stops(self):
    # 1e31 is finite; a mean token NLL of 10 x log(V) is already absurd.
    workdir, message = self._run_with_mle_loss(1e31)
    self.assertIn("mle_loss (1e+31 > 34.66, 10 x a uniform guess)", message)
    self.assertFalse(os.path.exists(os.path.join(workdir, "results.json")))


class CollapseWarningTest(tf.test.TestCase):

  def test_distinct_fraction_by_hand(self):
    samples = np.array([[1, 2], [1, 2], [3, 4], [1, 2]])
    self.assertEqual(tasks.distinct_fraction(samples), 2 / 4)

  def test_collapsed_generator_is_exported_with_a_loud_warning(self):
    workdir = self.create_tempdir().full_path
    config = smoke_config(pretrain_gen_epochs=1, pretrain_dis_steps=0,
                          adv_iterations=0)
    with mock.patch.object(tasks, "distinct_fraction", lambda s: 0.01):
      with self.assertLogs(level="WARNING") as logs:
        results = loop.train_and_evaluate(config, workdir)
    self.assertIn("the generator has collapsed", "\n".join(logs.output))
    with open(os.path.join(workdir, "results.json")) as f:
      self.assertIn("collapsed", json.load(f)["warnings"][0])
    self.assertIn("export", results)


class TimeBudgetTest(tf.test.TestCase):

  def test_a_budget_below_the_fixed_costs_leaves_one_unit_of_each(self):
    # 6 ms cannot hold D pre-training and the final evaluation, whatever this
    # machine's timing: 1 MLE epoch and 1 iteration (of 4 and 3).
    workdir = self.create_tempdir().full_path
    config = smoke_config(time_budget_minutes=1e-4)
    results = loop.train_and_evaluate(config, workdir)
    self.assertEqual(results["global_step"], 2)
    self.assertEqual([e[:2] for e in evals(workdir)],    # each phase's end
                     [(0, "mle"), (1, "mle"), (2, "adversarial"),
                      (2, "final")])
    with open(os.path.join(workdir, workdir_lib.CONFIG_FILE)) as f:
      saved = json.load(f)["full"]
    self.assertEqual((saved["pretrain_gen_epochs"], saved["adv_iterations"],
                      saved["time_budget_minutes"]), (1, 1, 0.0))
    # Resumed from its config.json, the run keeps that schedule: complete.
    again = loop.train_and_evaluate(
        config_lib.Config.from_json(json.dumps(saved)), workdir)
    self.assertEqual(again["nll_oracle"], results["nll_oracle"])

  def test_no_fit_under_deterministic(self):
    workdir = self.create_tempdir().full_path
    config = smoke_config(time_budget_minutes=1e-4, deterministic=True,
                          pretrain_gen_epochs=2, pretrain_dis_steps=0,
                          adv_iterations=0)
    self.assertEqual(loop.train_and_evaluate(config, workdir)["global_step"],
                     2)                                  # not cut to 1


if __name__ == "__main__":
  tf.test.main()
