"""Early stopping of MLE pre-training: the split, the validation NLL against
a hand count, when it stops, and that G goes on from its best epoch."""

import json
import os
from unittest import mock

import numpy as np
import tensorflow as tf

from conftest import smoke_config
from seqgan_tf.training import early_stopping, loop, phases
from seqgan_tf.training.state import SeqGAN

# Validation NLL after each MLE epoch: best at epoch 2 (index 1), then two
# epochs without a lower one.
SCRIPT = [3.0, 2.0, 2.5, 2.1, 1.0, 0.5, 0.4, 0.3, 0.2, 0.1]


class SplitTest(tf.test.TestCase):

  def test_every_nth_row_is_held_out(self):
    real = np.arange(40).reshape(20, 2)
    train, validation = early_stopping.split(real, 5)
    self.assertAllEqual(validation[:, 0], [8, 18, 28, 38])
    self.assertEqual(len(train), 16)
    self.assertEmpty(set(train[:, 0]) & set(validation[:, 0]))

  def test_validation_nll_counts_tokens_through_end(self):
    config = smoke_config(mle_patience=1)
    model = SeqGAN(config, vocab_size=6, start_token=1, end_token=2)
    rows = np.array([[4, 5, 2, 0], [3, 2, 0, 0]], np.int32)
    stopper = early_stopping.EarlyStopping(model, rows, 2, patience=1)
    log_probs = model.generator.log_probs(tf.constant(rows)).numpy()
    by_hand = -(log_probs[0, :3].sum() + log_probs[1, :2].sum()) / 5
    self.assertAllClose(stopper.validation_nll(), by_hand, rtol=1e-5)


class EarlyStoppingRunTest(tf.test.TestCase):

  def _run(self, workdir, config):
    """Runs with SCRIPT as the validation NLL; returns G's weights after
    each MLE epoch and the results."""
    after = []
    original = phases.PhaseWork.mle_epoch
    original_iteration = phases.PhaseWork.adversarial_iteration

    def mle_epoch(work, epoch, counters):
      metrics = original(work, epoch, counters)
      after.append([w.numpy() for w in work.model.generator.weights])
      return metrics

    def adversarial_iteration(work, it, counters):
      if it == 0:
        self.adversarial_start = [w.numpy()
                                  for w in work.model.generator.weights]
      return original_iteration(work, it, counters)

    calls = iter(SCRIPT)
    with mock.patch.object(phases.PhaseWork, "mle_epoch", mle_epoch), \
        mock.patch.object(phases.PhaseWork, "adversarial_iteration",
                          adversarial_iteration), \
        mock.patch.object(early_stopping.EarlyStopping, "validation_nll",
                          lambda self: next(calls)):
      trainer = loop.Trainer(config, workdir, loop.signals.StopSignal())
      results = trainer.run()
    return after, trainer, results

  def test_stops_after_patience_and_goes_on_from_the_best_epoch(self):
    config = smoke_config(mle_patience=2, pretrain_gen_epochs=10,
                          validation_every=8, adv_iterations=1)
    workdir = self.create_tempdir().full_path
    after, trainer, results = self._run(workdir, config)
    self.assertLen(after, 4)                        # epochs 1-4, then stop
    best = after[1]                                  # epoch 2
    for w, b in zip(trainer.model.best_generator.weights, best):
      self.assertAllEqual(w.numpy(), b)
    self.assertNotAllClose(after[3][0], best[0])     # G had moved on...
    self.assertEqual(results["mle_best_epoch"], 2)
    self.assertAllClose(results["mle_val_nll"], 2.0)
    self.assertEqual(int(trainer.model.mle_epochs_done), 10)  # phase over
    # ...and the adversarial phase started from the best epoch's G.
    for w, b in zip(self.adversarial_start, best):
      self.assertAllEqual(w, b)
    with open(os.path.join(workdir, "eval_metrics.jsonl")) as f:
      mle_steps = [e["global_step"] for e in map(json.loads, f)
                   if e["phase"] == "mle"]
    self.assertEqual(max(mle_steps), 4)
    # G and D train without the validation rows.
    self.assertLen(trainer.phases.real, 256 - 256 // 8)

  def test_no_patience_runs_every_epoch(self):
    config = smoke_config()
    model = SeqGAN(config)
    self.assertIsNone(model.best_generator)
    self.assertNotIn("best_generator", model.checkpoint()._trackable_children())


if __name__ == "__main__":
  tf.test.main()
