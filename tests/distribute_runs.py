"""Runs for distribute_test.py in a fresh process: logical devices must be set
before TensorFlow starts, which pytest's process has long done.

  python tests/distribute_runs.py OUT_DIR

Splits the CPU into two logical devices, then writes OUT_DIR/runs.json with
the evaluations of three smoke runs: one device; mirrored over the two; and
one started on one device and finished mirrored (resume across strategies).
"""

import json
import os
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import smoke_config  # pylint: disable=g-import-not-at-top
from seqgan_tf.training import loop


def evaluations(workdir):
  with open(os.path.join(workdir, "eval_metrics.jsonl")) as f:
    return [(e["global_step"], e["nll_oracle"]) for e in map(json.loads, f)]


def main(out):
  runs = {}
  for strategy in ("default", "mirrored"):
    workdir = os.path.join(out, strategy)
    loop.train_and_evaluate(smoke_config(strategy=strategy), workdir)
    runs[strategy] = evaluations(workdir)
  workdir = os.path.join(out, "switched")
  loop.train_and_evaluate(smoke_config(adv_iterations=1), workdir)
  results = loop.train_and_evaluate(smoke_config(strategy="mirrored"),
                                     workdir)
  runs["switched"] = evaluations(workdir)
  runs["replicas"] = tf.distribute.MirroredStrategy(
      ["/cpu:0", "/cpu:1"]).num_replicas_in_sync
  runs["switched_final"] = results["nll_oracle"]
  with open(os.path.join(out, "runs.json"), "w") as f:
    json.dump(runs, f)


if __name__ == "__main__":
  main(sys.argv[1])
