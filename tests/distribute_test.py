"""tf.distribute: the same run on one device, on two mirrored devices, and on
two worker processes; a run resumed under another strategy; every method's
step on one device and on two; the clip's norm."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

import step_cases
from conftest import REPO, smoke_config
from seqgan_tf.training import distribute


def free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def env(**extra):
  return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
          "PYTHONPATH": str(REPO), **extra}


class MirroredTest(tf.test.TestCase):

  def test_two_devices_match_one_and_resume_across_strategies(self):
    out = self.create_tempdir().full_path
    subprocess.run([sys.executable, str(REPO / "tests" / "distribute_runs.py"),
                    out], check=True, env=env(), timeout=900)
    with open(os.path.join(out, "runs.json")) as f:
      runs = json.load(f)
    self.assertEqual(runs["replicas"], 2)
    one, two = runs["default"], runs["mirrored"]
    self.assertEqual([s for s, _ in one], [s for s, _ in two])
    # Same draws, same batches, gradients summed over the two halves: only
    # float rounding differs.
    self.assertAllClose([v for _, v in one], [v for _, v in two], atol=1e-3)
    # One device for the first iteration, two for the rest.
    self.assertAllClose(runs["switched_final"], one[-1][1], atol=1e-3)


class StepsOnTwoDevicesTest(tf.test.TestCase):

  def test_every_method_takes_the_same_steps_on_one_and_two_devices(self):
    """Two steps of MLE, SS, SeqGAN and PG-BLEU (synthetic, and text with
    </s> inside the batch), with a clip that acts on every step."""
    out = os.path.join(self.create_tempdir().full_path, "steps.json")
    subprocess.run([sys.executable, str(REPO / "tests" / "distribute_steps.py"),
                    out], check=True, env=env(), timeout=900)
    with open(out) as f:
      results = json.load(f)
    self.assertEqual(results.pop("replicas"), 2)
    self.assertEqual(set(results),
                     {f"{m}/{t}" for m, t in step_cases.CASES})
    for case, result in results.items():
      with self.subTest(case):
        self.assertGreater(result["max_change"], 1e-3)   # G did move
        self.assertLess(result["max_difference"], 1e-5)
        one, two = result["metrics"]
        self.assertEqual(set(one), set(two))
        # The norm the clip saw: the true one on both (a sparse embedding
        # gradient's per-occurrence norm differs by ~1e-5 to 1e-4 here).
        for name in one:
          self.assertAllClose(one[name], two[name], rtol=2e-6, msg=name)


class ClipNormTest(tf.test.TestCase):

  def test_clip_sees_the_norm_of_the_summed_embedding_gradient(self):
    """Repeated tokens: the embedding's gradient rows add up per token. The
    gradients handed to the optimiser are dense and their global norm is
    NumPy's norm of the summed rows, not the per-occurrence sum of squares
    that an IndexedSlices norm gives."""
    model = step_cases.build("mle", "text")
    # 32 rows alike: each token's occurrences have alike gradients.
    tokens = tf.constant([[4, 5, 4, 4, 5, 4, 4, 2]] * 32)
    variables = model.generator.trainable_variables
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(model.generator.log_probs(tokens))
    raw = tape.gradient(loss, variables)
    self.assertTrue(any(isinstance(g, tf.IndexedSlices) for g in raw))
    squares, embedding = 0.0, None
    for g, v in zip(raw, variables):
      if isinstance(g, tf.IndexedSlices):
        dense = np.zeros(v.shape, np.float64)
        np.add.at(dense, g.indices.numpy(), g.values.numpy())
        embedding = dense, g.values.numpy().astype(np.float64)
      else:
        dense = g.numpy().astype(np.float64)
      squares += np.sum(dense ** 2)
    reduced = model.devices.all_reduce(raw)
    self.assertFalse(any(isinstance(g, tf.IndexedSlices) for g in reduced))
    self.assertAllClose(tf.linalg.global_norm(reduced), np.sqrt(squares),
                        rtol=1e-5)
    # Not vacuous: per occurrence, the embedding's norm is far smaller.
    summed, occurrences = embedding
    self.assertGreater(np.linalg.norm(summed),
                       2 * np.linalg.norm(occurrences))


def start_workers(workdir, cwd, *flags):
  """Two worker processes of one smoke run on 127.0.0.1, logging to files."""
  ports = free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
  procs = []
  for index in range(2):
    tf_config = json.dumps({"cluster": cluster,
                            "task": {"type": "worker", "index": index}})
    log = open(os.path.join(cwd, f"worker{index}.log"), "w")
    procs.append((subprocess.Popen(
        [sys.executable, "-m", "seqgan_tf.main",
         f"--flagfile={REPO / 'flags' / 'smoke.flags'}",
         "--strategy=multi_worker", f"--workdir={workdir}", *flags],
        env=env(TF_CONFIG=tf_config), cwd=cwd, stdout=log,
        stderr=subprocess.STDOUT), log))
  return procs


def finish(procs, timeout=900):
  """Each worker's exit code and log."""
  out = []
  for proc, log in procs:
    proc.wait(timeout=timeout)
    log.close()
    with open(log.name) as f:
      out.append((proc.returncode, f.read()))
  return out


class MultiWorkerTest(tf.test.TestCase):
  # A longer MLE phase than the smoke preset's, so that a signal sent after
  # its first epoch lands inside the run.
  FLAGS = ("--pretrain_gen_epochs=12", "--eval_every=100")

  def test_two_workers_run_stop_together_and_resume(self):
    """The schedule on two workers; then SIGTERM to worker 1 alone after
    its first MLE epoch: both stop at the same step with exit code 143
    after a checkpoint, and the same command on both finishes the run with
    the uninterrupted run's result."""
    root = self.create_tempdir().full_path
    whole = os.path.join(root, "whole")
    for code, log in finish(start_workers(whole, root, *self.FLAGS)):
      self.assertEqual(code, 0, log[-3000:])
    with open(os.path.join(whole, "results.json")) as f:
      expected = json.load(f)["nll_oracle"]
    self.assertIsNotNone(tf.train.latest_checkpoint(
        os.path.join(whole, "checkpoints")))
    # The second worker's files are its own, inside the run.
    self.assertTrue(os.path.isdir(os.path.join(whole, "worker-worker-1")))

    pieces = os.path.join(root, "pieces")
    procs = start_workers(pieces, root, *self.FLAGS)
    deadline = time.monotonic() + 600
    while "MLE epoch 1/" not in open(procs[1][1].name).read():
      self.assertLess(time.monotonic(), deadline, "no MLE epoch logged")
      self.assertIsNone(procs[1][0].poll(), "worker 1 ended early")
      time.sleep(0.02)
    procs[1][0].send_signal(signal.SIGTERM)
    stopped = finish(procs)
    for code, log in stopped:
      self.assertEqual(code, 128 + signal.SIGTERM, log[-3000:])
    # Both name the same position, after a checkpoint.
    where = [re.search(r"holds the position inside (.*?)\. Run", log).group(1)
             for _, log in stopped]
    self.assertEqual(where[0], where[1])
    self.assertIn("stopped by SIGTERM", stopped[0][1])   # worker 0 agreed
    self.assertFalse(os.path.exists(os.path.join(pieces, "results.json")))
    for code, log in finish(start_workers(pieces, root, *self.FLAGS)):
      self.assertEqual(code, 0, log[-3000:])
      self.assertIn("Resumed from", log)
    with open(os.path.join(pieces, "results.json")) as f:
      self.assertAllClose(json.load(f)["nll_oracle"], expected, atol=1e-3)


class HelpersTest(tf.test.TestCase):

  def test_coordination_service_waits_longer_for_heartbeats(self):
    """The service a worker configures: the leader and jobs the strategy
    would choose (worker 0; the chief when there is one), a longer timeout."""
    for cluster, leader, jobs in [
        ({"worker": ["localhost:1", "localhost:2"]},
         "/job:worker/replica:0/task:0", "[('worker', 2)]"),
        ({"chief": ["localhost:3"], "worker": ["localhost:1"]},
         "/job:chief/replica:0/task:0", "[('chief', 1), ('worker', 1)]")]:
      env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": json.dumps(
          {"cluster": cluster, "task": {"type": "worker", "index": 0}})}
      code = ("from tensorflow.python.eager import context\n"
              "from seqgan_tf.training import distribute\n"
              "distribute._configure_coordination(1234)\n"
              "c = context.context().coordination_service\n"
              "print(c.heartbeat_timeout_in_ms, c.service_leader, "
              "[(j.name, j.num_tasks) for j in c.coordinated_job_list])")
      out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
      self.assertEqual(out.returncode, 0, out.stderr[-2000:])
      self.assertEqual(out.stdout.strip().splitlines()[-1],
                       f"1234 {leader} {jobs}")

  def test_chief(self):
    cases = [(None, True),
             ({"cluster": {"worker": ["a", "b"]},
               "task": {"type": "worker", "index": 1}}, False),
             ({"cluster": {"worker": ["a", "b"]},
               "task": {"type": "worker", "index": 0}}, True),
             ({"cluster": {"chief": ["c"], "worker": ["a"]},
               "task": {"type": "worker", "index": 0}}, False)]
    for config, chief in cases:
      value = "" if config is None else json.dumps(config)
      with tf.compat.v1.test.mock.patch.dict(os.environ, {"TF_CONFIG": value}):
        self.assertEqual(distribute.is_chief(), chief, config)

  def test_one_replica_draws_as_before(self):
    seed = tf.constant([1, 2])
    self.assertAllEqual(distribute.uniform([4, 3], seed),
                        tf.random.stateless_uniform([4, 3], seed))

  def test_replica_rows_are_rows_of_the_global_draw(self):
    seed = tf.constant([3, 4])
    full = tf.random.stateless_uniform([2, 8, 2], seed)
    part = distribute.uniform([2, 4, 2], seed, 1, (tf.constant(4), 8))
    self.assertAllEqual(part, full[:, 4:])

  def test_batch_must_split_evenly(self):
    with self.assertRaisesRegex(ValueError, "multi_worker needs TF_CONFIG"):
      with tf.compat.v1.test.mock.patch.dict(os.environ, clear=True):
        distribute.make_strategy("multi_worker")
    self.assertEqual(smoke_config(strategy="mirrored").strategy, "mirrored")


if __name__ == "__main__":
  tf.test.main()
