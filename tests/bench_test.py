"""The benchmark script runs and prints every phase (its timings are not
checked here: speed is shown by running it, never by a timed test)."""

import subprocess
import sys

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
