"""Each method of Table 1 trains end to end; runs can start from another run."""

import json
import os

import numpy as np
import tensorflow as tf

from conftest import smoke_config
from seqgan_tf import config as config_lib, export
from seqgan_tf.training import loop, signals, workdir as workdir_lib

NO_D = dict(pretrain_dis_steps=0, adv_iterations=0)


def listing(folder):
  """Every file under `folder` with its size and modification time."""
  out = {}
  for root, _, files in os.walk(folder):
    for name in files:
      path = os.path.join(root, name)
      out[path] = (os.path.getsize(path), os.path.getmtime(path))
  return out


class MethodRunTest(tf.test.TestCase):

  def test_each_method_runs_only_its_phases(self):
    cases = {"mle": NO_D, "ss": dict(NO_D, ss_decay=0.2),
             "pg_bleu": dict(pretrain_dis_steps=0, adv_d_steps=0)}
    for method, changes in cases.items():
      with self.subTest(method):
        workdir = self.create_tempdir().full_path
        config = smoke_config(method=method, **changes)
        results = loop.train_and_evaluate(config, workdir)
        self.assertTrue(np.isfinite(results["nll_oracle"]))
        self.assertGreater(results["wall_seconds"], 0.0)
        # Time is counted for the phases the method runs, and only for them.
        ran = {"mle"} | ({"adversarial"} if method == "pg_bleu" else set())
        self.assertEqual(set(results["phase_seconds"]), ran)
        self.assertLessEqual(sum(results["phase_seconds"].values()),
                             results["wall_seconds"])
        self.assertEqual("seconds_per_iteration" in results,
                         method == "pg_bleu")
        lines = [json.loads(l) for l in open(
            os.path.join(workdir, "eval_metrics.jsonl"))]
        phases = {l["phase"] for l in lines}
        self.assertEqual("adversarial" in phases, method == "pg_bleu")

  def test_pg_bleu_never_trains_d(self):
    workdir = self.create_tempdir().full_path
    config = smoke_config(method="pg_bleu", pretrain_dis_steps=0,
                          adv_d_steps=0)
    trainer = loop.Trainer(config, workdir, signals.StopSignal())
    before = [v.numpy() for v in trainer.model.discriminator.weights]
    trainer.run()
    for a, b in zip(before, trainer.model.discriminator.weights):
      self.assertAllEqual(a, b.numpy())

  def test_method_refuses_work_it_does_not_do(self):
    with self.assertRaisesRegex(config_lib.ConfigError,
                                "--adv_iterations=3: --method=mle"):
      smoke_config(method="mle", pretrain_dis_steps=0)


class InitFromTest(tf.test.TestCase):

  def test_starts_from_another_run_and_leaves_it_alone(self):
    source = self.create_tempdir().full_path
    mle = smoke_config(method="mle", **NO_D)
    loop.train_and_evaluate(mle, source)
    before = listing(source)
    expected = [v.numpy() for v in
                export.restore_generator(mle, source).weights]

    workdir = self.create_tempdir().full_path
    config = smoke_config(init_from=source, adv_iterations=1,
                          pg_learning_rate=0.002)
    trainer = loop.Trainer(config, workdir, signals.StopSignal())
    trainer.restore()
    self.assertEqual(int(trainer.model.mle_epochs_done),
                     config.pretrain_gen_epochs)
    # The flags' rates win over the restored optimizers' own.
    self.assertAllClose(float(trainer.model.pg_optimizer.learning_rate), 0.002)
    self.assertAllClose(float(trainer.model.mle_optimizer.learning_rate),
                        config.gen_learning_rate)
    for a, b in zip(expected, trainer.model.generator.weights):
      self.assertAllEqual(a, b.numpy())
    results = trainer.run()
    self.assertTrue(np.isfinite(results["nll_oracle"]))
    self.assertEqual(listing(source), before)
    # The eval log of the new run starts after MLE: MLE was not redone.
    steps = [json.loads(l)["global_step"] for l in open(
        os.path.join(workdir, "eval_metrics.jsonl"))]
    self.assertGreaterEqual(min(steps), config.pretrain_gen_epochs)

  def test_refuses_another_model(self):
    source = self.create_tempdir().full_path
    loop.train_and_evaluate(smoke_config(method="mle", **NO_D), source)
    config = smoke_config(init_from=source, gen_hidden_dim=16)
    with self.assertRaisesRegex(workdir_lib.WorkdirError,
                                "--init_from=.*gen_hidden_dim"):
      loop.train_and_evaluate(config, self.create_tempdir().full_path)

  def test_refuses_a_folder_without_a_run(self):
    config = smoke_config(init_from=self.create_tempdir().full_path)
    with self.assertRaisesRegex(workdir_lib.WorkdirError, "holds no run"):
      loop.train_and_evaluate(config, self.create_tempdir().full_path)


if __name__ == "__main__":
  tf.test.main()
