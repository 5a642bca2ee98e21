"""One device against two, step by step, for distribute_test.py.

  python tests/distribute_steps.py OUT_JSON

Splits the CPU into two logical devices (before TensorFlow starts, hence a
fresh process), then runs two steps of every case of step_cases.py once on
the default strategy and once mirrored over the two devices, from the same
seed, and writes each case's largest difference in G's variables, the least
that G moved, and both runs' last metrics (the policy gradient's includes the
norm its clip saw).
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import step_cases  # pylint: disable=g-import-not-at-top
from seqgan_tf.training import distribute


def main(out):
  mirrored = distribute.make_strategy("mirrored")
  results = {"replicas": mirrored.num_replicas_in_sync}
  for method, task in step_cases.CASES:
    weights, moved, metrics = [], [], []
    for strategy in (None, mirrored):
      model = step_cases.build(method, task, strategy=strategy)
      start = step_cases.generator_weights(model)
      metrics.append(step_cases.run_steps(model, method, task))
      weights.append(step_cases.generator_weights(model))
      moved.append(max(float(np.abs(a - b).max())
                       for a, b in zip(start, weights[-1])))
    results[f"{method}/{task}"] = {
        "max_difference": max(float(np.abs(a - b).max())
                              for a, b in zip(*weights)),
        "max_change": min(moved), "metrics": metrics}
  with open(out, "w") as f:
    json.dump(results, f, indent=1)


if __name__ == "__main__":
  main(sys.argv[1])
