"""End to end through the command line, as a user runs it.

Runs `python -m seqgan_tf.main --flagfile=flags/smoke.flags` in subprocesses:
a whole run with its TensorBoard events, checkpoints and samples; resumption
(exact under --deterministic); and each kind of bad input.
"""

import glob
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import tensorflow as tf

from conftest import REPO
from seqgan_tf import oracle

SMOKE = ["--flagfile=flags/smoke.flags"]


def run_main(workdir, *flags):
  """Runs the CLI; returns (exit code, combined output)."""
  proc = subprocess.run(
      [sys.executable, "-m", "seqgan_tf.main", f"--workdir={workdir}", *flags],
      cwd=REPO, capture_output=True, text=True, timeout=600)
  return proc.returncode, proc.stdout + proc.stderr


def read_events(workdir):
  """{tag: [(step, value)]} from the run's TensorBoard event files."""
  series = {}
  for path in glob.glob(os.path.join(workdir, "tensorboard", "events.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        array = tf.make_ndarray(value.tensor)
        series.setdefault(value.tag, []).append((event.step, array))
  return series


class SmokeRunTest(tf.test.TestCase):

  def test_run_writes_events_checkpoints_samples_then_resumes(self):
    workdir = self.create_tempdir().full_path
    code, out = run_main(workdir, *SMOKE)
    self.assertEqual(code, 0, out)
    with open(os.path.join(workdir, "results.json")) as f:
      results = json.load(f)
    self.assertEqual(results["global_step"], 4 + 3)   # MLE epochs + iterations
    self.assertBetween(results["nll_oracle"], 0.5, np.log(32) * 1.5)

    events = read_events(workdir)
    nll_steps = [step for step, _ in events["nll_oracle"]]
    # One curve across phases: MLE evals at 0, 2, 4, adversarial at 6, 7.
    self.assertEqual(nll_steps, [0, 2, 4, 6, 7])
    nll = [float(v) for _, v in events["nll_oracle"]]
    self.assertLess(nll[2], nll[0])                   # MLE learns the oracle
    for tag in ("generator/mle_loss", "dis_pretrain/dis_acc_real",
                "adversarial/reward_mean", "adversarial/dis_acc_fake"):
      self.assertIn(tag, events)
    sample_text = events["samples"][-1][1].reshape(-1)[0].decode()
    self.assertLen(sample_text.split(), 8)            # seq_length ids
    self.assertTrue(glob.glob(os.path.join(workdir, "checkpoints", "ckpt-*")))

    # Asking for one more adversarial iteration resumes; nothing is redone.
    code, out = run_main(workdir, *SMOKE, "--adv_iterations=4")
    self.assertEqual(code, 0, out)
    self.assertIn("3 adversarial iterations done", out)
    self.assertNotIn("mle epoch", out)
    self.assertIn("adversarial iteration 4/4", out)
    with open(os.path.join(workdir, "results.json")) as f:
      self.assertEqual(json.load(f)["global_step"], 4 + 4)

  def test_resumed_run_ends_exactly_where_an_uninterrupted_one_does(self):
    flags = SMOKE + ["--deterministic"]
    whole = self.create_tempdir().full_path
    self.assertEqual(run_main(whole, *flags)[0], 0)
    # The same schedule in three pieces: stop mid-MLE, then mid-adversarial.
    pieces = self.create_tempdir().full_path
    code, out = run_main(pieces, *flags, "--pretrain_gen_epochs=2",
                         "--pretrain_dis_steps=0", "--adv_iterations=0")
    self.assertEqual(code, 0, out)
    code, out = run_main(pieces, *flags, "--adv_iterations=1")
    self.assertEqual(code, 0, out)
    self.assertIn("2 MLE epochs, 0 D pre-training steps", out)
    code, out = run_main(pieces, *flags)
    self.assertEqual(code, 0, out)
    self.assertIn("1 adversarial iterations done", out)
    results = []
    for workdir in (whole, pieces):
      with open(os.path.join(workdir, "results.json")) as f:
        results.append(json.load(f))
    self.assertEqual(results[0]["nll_oracle"], results[1]["nll_oracle"])


class BadInputTest(tf.test.TestCase):

  def test_invalid_flag_value(self):
    code, out = run_main(self.create_tempdir().full_path, *SMOKE,
                         "--rollout_update_rate=2")
    self.assertEqual(code, 2)
    self.assertIn("--rollout_update_rate=2.0: must be in [0, 1]", out)

  def test_oracle_pickle_of_wrong_shapes(self):
    params = oracle.random_params(99, 8, 8, seed=0)   # smoke wants vocab 32
    path = self.create_tempfile("oracle.pkl").full_path
    with open(path, "wb") as f:
      pickle.dump([params[n] for n in oracle.PARAM_NAMES], f)
    workdir = self.create_tempdir().full_path
    code, out = run_main(workdir, *SMOKE, f"--oracle_params={path}")
    self.assertEqual(code, 3)
    self.assertIn("emb has shape (99, 8), expected (32, 8)", out)
    self.assertFalse(os.path.exists(os.path.join(workdir, "checkpoints")))

  def test_token_file_with_out_of_vocabulary_id(self):
    path = self.create_tempfile(content="1 2 3 4 5 6 7 40\n").full_path
    code, out = run_main(self.create_tempdir().full_path, *SMOKE,
                         f"--train_file={path}")
    self.assertEqual(code, 3)
    self.assertIn("token id 40 is outside [0, --vocab_size=32)", out)

  def test_workdir_of_another_config_is_refused_and_kept(self):
    workdir = self.create_tempdir().full_path
    code, _ = run_main(workdir, *SMOKE, "--pretrain_gen_epochs=1",
                       "--pretrain_dis_steps=0", "--adv_iterations=0")
    self.assertEqual(code, 0)
    before = sorted(os.listdir(os.path.join(workdir, "checkpoints")))
    code, out = run_main(workdir, *SMOKE, "--gen_hidden_dim=16")
    self.assertEqual(code, 2)
    self.assertIn("holds a run of another configuration", out)
    self.assertIn("--gen_hidden_dim: workdir has 8, flags give 16", out)
    self.assertEqual(sorted(os.listdir(os.path.join(workdir, "checkpoints"))),
                     before)

  def test_nan_loss_stops_with_phase_and_keeps_last_good_checkpoint(self):
    workdir = self.create_tempdir().full_path
    short = ["--pretrain_dis_steps=0", "--adv_iterations=0"]
    code, _ = run_main(workdir, *SMOKE, "--pretrain_gen_epochs=2", *short)
    self.assertEqual(code, 0)
    code, out = run_main(workdir, *SMOKE, "--pretrain_gen_epochs=4", *short,
                         "--gen_learning_rate=1e30")
    self.assertEqual(code, 4, out)
    self.assertIn("MLE pre-training step 3: mle_loss is not finite", out)
    with open(os.path.join(workdir, "checkpoints", "checkpoint")) as f:
      self.assertIn('model_checkpoint_path: "ckpt-2"', f.read())


if __name__ == "__main__":
  tf.test.main()
