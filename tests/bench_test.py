"""The benchmark script runs and prints every phase (its timings are not
checked here: speed is shown by running it, never by a timed test)."""

import importlib.util
import subprocess
import sys

import keras
import tensorflow as tf

from conftest import REPO

PHASES = ("mle_epoch", "sample_9984", "dis_epoch", "reward_batch",
          "generator_step", "adversarial_iteration", "nll_oracle_9984")


class BenchTest(tf.test.TestCase):

  def test_tiny_bench_prints_every_phase(self):
    proc = subprocess.run(
        [sys.executable, "bench/bench_synthetic.py", "--tiny", "--repeats=1"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    self.assertEqual(proc.returncode, 0, proc.stderr)
    rows = {line.split()[0]: line.split()[1:] for line in
            proc.stdout.splitlines() if line.split() and
            line.split()[0] in PHASES}
    self.assertCountEqual(rows, PHASES)
    for name, cells in rows.items():
      self.assertGreaterEqual(float(cells[0]), 0.0, name)  # a measured time
      self.assertGreaterEqual(float(cells[3]), 0.0, name)  # FLOPs counted
      self.assertGreaterEqual(float(cells[6]), 0.0, name)  # op floor
    self.assertIn("GFLOP/s", proc.stdout)

  def test_bfloat16_comparison_times_both_dtypes(self):
    proc = subprocess.run(
        [sys.executable, "bench/bench_synthetic.py", "--tiny", "--repeats=1",
         "--compare=bf16", "--phases=dis_step"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    self.assertEqual(proc.returncode, 0, proc.stderr)
    row = [line.split() for line in proc.stdout.splitlines()
           if line.startswith("dis_step")]
    self.assertLen(row, 1)
    self.assertLen(row[0], 4)         # name, float32 s, bfloat16 s, ratio
    for cell in row[0][1:]:
      self.assertGreaterEqual(float(cell), 0.0)


if __name__ == "__main__":
  tf.test.main()


def load_dis_widths():
  spec = importlib.util.spec_from_file_location(
      "dis_widths", REPO / "bench" / "dis_widths.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


class DisWidthsTest(tf.test.TestCase):

  def test_every_variant_computes_what_conv1d_computes(self):
    # The bench compares speeds; that means something only if the gathered
    # and sliced windows give Conv1D's conv-max and the same gradients.
    dis_widths = load_dis_widths()
    x = tf.Variable(tf.random.normal([3, 7, 5], seed=1))
    upstream = tf.random.normal([3, 4], seed=2)
    for width in (1, 3, 7):
      conv = keras.layers.Conv1D(4, width, activation="relu",
                                 bias_initializer="ones")
      conv.build([None, 7, 5])
      results = {}
      for variant in dis_widths.VARIANTS:
        with tf.GradientTape() as tape:
          out = dis_widths.conv_max(conv, variant, x)
          loss = tf.reduce_sum(out * upstream)
        results[variant] = [out] + tape.gradient(
            loss, [x, conv.kernel, conv.bias])
      for variant in ("gather", "slices"):
        for got, want in zip(results[variant], results["conv"]):
          self.assertAllClose(got, want, atol=1e-5,
                              msg=f"{variant} width {width}")
      # The timed pass runs too and agrees across variants.
      sums = [float(dis_widths.train_pass(conv, v, x)())
              for v in dis_widths.VARIANTS]
      self.assertAllClose(sums, [sums[0]] * len(sums), rtol=1e-5)
