"""End to end through the command line, as a user runs it.

Runs `python -m seqgan_tf.main --flagfile=flags/smoke.flags` in subprocesses:
a whole run with its TensorBoard events, checkpoints and samples; resumption
from the workdir alone; SIGTERM; and each kind of bad input (the exactness of
resuming is tested in-process, in train_loop_test.py).
"""

import glob
import json
import os
import pathlib
import pickle
import signal
import subprocess
import sys

import numpy as np
import tensorflow as tf

from conftest import REPO
from seqgan_tf.data import oracle

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


def plugins_in_events(workdir):
  """The TensorBoard plugins that the run's event files carry data for."""
  names = set()
  for path in glob.glob(os.path.join(workdir, "tensorboard", "events.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        names.add(value.metadata.plugin_data.plugin_name)
  return names


class SmokeRunTest(tf.test.TestCase):

  def test_run_writes_events_checkpoints_samples_then_resumes(self):
    workdir = self.create_tempdir().full_path
    code, out = run_main(workdir, *SMOKE, "--progress_secs=1e-9")
    self.assertEqual(code, 0, out)
    self.assertIn("Estimated time of the rest of the run on this machine", out)
    self.assertIn("  mle epoch 1, batch: 1/8", out)     # inside a unit
    self.assertIn("  D pre-training step 1, D epoch 1, batch: 1/", out)
    self.assertIn("Checkpoint " + os.path.join(workdir, "checkpoints",
                                               "ckpt-1") + " written", out)
    with open(os.path.join(workdir, "results.json")) as f:
      results = json.load(f)
    self.assertEqual(results["global_step"], 4 + 3)   # MLE epochs + iterations
    self.assertBetween(results["nll_oracle"], 0.5, np.log(32) * 1.5)
    # Every final sample's score is kept (the paper's t-test needs them).
    scores = np.load(os.path.join(workdir, "final_scores.npz"))["nll_oracle"]
    self.assertEqual(scores.shape, (512,))            # --final_nll_samples
    self.assertNear(float(scores.mean()), results["nll_oracle"], 1e-5)

    events = read_events(workdir)
    nll_steps = [step for step, _ in events["nll_oracle"]]
    # One curve across phases: MLE evals at 0, 2, 4, adversarial at 6, 7.
    self.assertEqual(nll_steps, [0, 2, 4, 6, 7])
    nll = [float(v) for _, v in events["nll_oracle"]]
    self.assertLess(nll[2], nll[0])                   # MLE learns the oracle
    for tag in ("generator/mle_loss", "dis_pretrain/dis_acc_real",
                "adversarial/reward_mean", "adversarial/dis_acc_fake"):
      self.assertIn(tag, events)
    self.assertIn("hparams", plugins_in_events(workdir))
    sample_text = events["samples"][-1][1].reshape(-1)[0].decode()
    self.assertLen(sample_text.split(), 8)            # seq_length ids
    self.assertTrue(glob.glob(os.path.join(workdir, "checkpoints", "ckpt-*")))

    # Asking for one more adversarial iteration resumes; nothing is redone.
    code, out = run_main(workdir, *SMOKE, "--adv_iterations=4")
    self.assertEqual(code, 0, out)
    self.assertIn("3 adversarial iterations done", out)
    self.assertNotIn("MLE epoch 1/", out)
    self.assertIn("adversarial iteration 4/4", out)
    with open(os.path.join(workdir, "results.json")) as f:
      self.assertEqual(json.load(f)["global_step"], 4 + 4)

    # The workdir alone is enough to resume, export and sample.
    code, out = run_main(workdir)
    self.assertEqual(code, 0, out)
    self.assertIn("Nothing to do: the run is complete", out)
    code, out = run_main(workdir, "--mode=export")
    self.assertEqual(code, 0, out)
    self.assertTrue(os.path.isdir(
        os.path.join(workdir, "export", "seqgan_synthetic", "3")))
    code, out = run_main(workdir, "--mode=sample", "--num_samples=2")
    self.assertEqual(code, 0, out)
    lines = [l for l in out.splitlines() if l and l.split()[0].isdigit()]
    self.assertLen(lines, 2)
    self.assertLen(lines[0].split(), 8)
    # A real conflict is still refused.
    code, out = run_main(workdir, "--mode=export", "--vocab_size=64")
    self.assertEqual(code, 2, out)
    self.assertIn("--vocab_size: workdir has 32, flags give 64", out)

    # Damaged files: one clear error each, the file kept as it was.
    results_path = os.path.join(workdir, "results.json")
    with open(results_path, "w") as f:
      f.write("{not json")
    code, out = run_main(workdir)
    self.assertEqual(code, 2, out)
    self.assertIn(f"{results_path} is unreadable", out)
    self.assertNotIn("Traceback", out)
    with open(results_path) as f:
      self.assertEqual(f.read(), "{not json")
    version = os.path.join(workdir, "export", "seqgan_synthetic", "3")
    with open(os.path.join(version, "saved_model.pb"), "wb") as f:
      f.write(b"garbage")
    code, out = run_main(workdir, "--mode=sample")
    self.assertEqual(code, 3, out)
    self.assertIn(f"{version} is not a readable SavedModel", out)
    self.assertNotIn("Traceback", out)


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

  def test_damaged_config_json_is_reported_and_kept(self):
    workdir = self.create_tempdir().full_path
    path = os.path.join(workdir, "config.json")
    with open(path, "w") as f:
      f.write('{"task": ')
    code, out = run_main(workdir, *SMOKE)
    self.assertEqual(code, 2, out)
    self.assertIn(f"{path} is unreadable", out)
    self.assertNotIn("Traceback", out)
    with open(path) as f:
      self.assertEqual(f.read(), '{"task": ')

  def test_truncated_newest_checkpoint_resumes_from_previous_and_is_kept(self):
    workdir = self.create_tempdir().full_path
    code, out = run_main(workdir, *SMOKE, "--pretrain_gen_epochs=2",
                         "--pretrain_dis_steps=0", "--adv_iterations=0")
    self.assertEqual(code, 0, out)
    data = glob.glob(os.path.join(workdir, "checkpoints", "ckpt-2.data-*"))[0]
    size = os.path.getsize(data)
    with open(data, "r+b") as f:
      f.truncate(size // 2)                 # a crash or a full disk
    code, out = run_main(workdir, *SMOKE)
    self.assertEqual(code, 0, out)
    self.assertIn("ckpt-2 is damaged", out)
    self.assertIn("1 MLE epochs", out)      # resumed from ckpt-1
    kept = glob.glob(os.path.join(workdir, "checkpoints", "damaged", "*",
                                  os.path.basename(data)))
    self.assertLen(kept, 1, out)
    self.assertEqual(os.path.getsize(kept[0]), size // 2)

  def test_crafted_pickle_runs_nothing(self):
    tmp = self.create_tempdir().full_path
    marker = os.path.join(tmp, "pwned")

    class Exploit:
      def __reduce__(self):
        return (os.system, (f"touch {marker}",))

    path = os.path.join(tmp, "oracle.pkl")
    with open(path, "wb") as f:
      pickle.dump([Exploit()], f)
    code, out = run_main(os.path.join(tmp, "run"), *SMOKE,
                         f"--oracle_params={path}")
    self.assertEqual(code, 3, out)
    self.assertIn("asks to call posix.system", out)
    self.assertNotIn("Traceback", out)
    self.assertFalse(os.path.exists(marker))

  def test_sigterm_checkpoints_and_the_same_command_resumes(self):
    workdir = self.create_tempdir().full_path
    endless = [*SMOKE, "--pretrain_gen_epochs=100000", "--checkpoint_every=1000"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqgan_tf.main", f"--workdir={workdir}",
         *endless], cwd=REPO, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:        # wait until training is under way
      seen.append(line)
      if "MLE epoch 2/100000" in line:
        break
    proc.send_signal(signal.SIGTERM)
    out = "".join(seen) + proc.communicate(timeout=120)[1]
    self.assertEqual(proc.returncode, 128 + signal.SIGTERM, out)
    self.assertIn("SIGTERM received: stopping at the next step boundary", out)
    self.assertIn("written (stopped by SIGTERM inside MLE pre-training unit",
                  out)
    self.assertIn("Run the same command to resume from there.", out)
    done = int(out.split("holds the position inside MLE pre-training unit "
                         )[1].split(".")[0]) - 1
    code, out = run_main(workdir, *endless,
                         f"--pretrain_gen_epochs={done + 1}",
                         "--pretrain_dis_steps=0", "--adv_iterations=0")
    self.assertEqual(code, 0, out)
    self.assertIn(f"{done} MLE epochs", out)
    self.assertIn("inside the next MLE pre-training unit at", out)


class CommandLineTest(tf.test.TestCase):

  def test_help_lists_the_projects_flags_with_real_help(self):
    script = pathlib.Path(sys.executable).parent / "seqgan"
    for command in ([sys.executable, "-m", "seqgan_tf.main", "--help"],
                    [str(script), "--help"]):
      out = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                           timeout=60).stdout
      self.assertIn("--task: <synthetic|obama|poems|coco|nottingham|text>",
                    out, command)
      self.assertIn("Monte Carlo completions per prefix", out, command)
      self.assertIn("--rollout_num", out, command)


if __name__ == "__main__":
  tf.test.main()
