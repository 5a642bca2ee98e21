"""Welch's t-test by hand, and the compare command on written scores."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
from scipy import stats

from conftest import REPO
from seqgan_tf.analysis import compare


def write_run(folder, **scores):
  os.makedirs(folder, exist_ok=True)
  np.savez(os.path.join(folder, "final_scores.npz"), **scores)
  return folder


class WelchTest(tf.test.TestCase):

  def test_statistic_and_degrees_of_freedom_by_hand(self):
    a = np.array([1.0, 2.0, 3.0, 4.0])          # mean 2.5, var 5/3
    b = np.array([2.0, 4.0, 6.0])               # mean 4, var 4
    t, df, p = compare.welch(a, b)
    se2 = 5 / 3 / 4 + 4 / 3
    self.assertNear(t, (2.5 - 4) / np.sqrt(se2), 1e-12)
    self.assertNear(df, se2 ** 2 / ((5 / 12) ** 2 / 3 + (4 / 3) ** 2 / 2),
                    1e-9)
    self.assertNear(p, 2 * stats.t.sf(abs(t), df), 1e-12)

  def test_separated_scores_are_significant_and_equal_ones_are_not(self):
    rng = np.random.default_rng(0)
    a, b = rng.normal(8.7, 0.5, 5000), rng.normal(9.0, 0.5, 5000)
    self.assertLess(compare.welch(a, b)[2], 1e-6)
    self.assertGreater(compare.welch(a, a + 1e-12 * rng.normal(size=5000))[2],
                       0.5)


class CompareCommandTest(tf.test.TestCase):

  def test_two_runs_and_two_groups(self):
    tmp = self.create_tempdir().full_path
    rng = np.random.default_rng(1)
    mle = [write_run(f"{tmp}/mle{i}", nll_oracle=rng.normal(9.0, 1, 1000))
           for i in range(2)]
    gan = [write_run(f"{tmp}/gan{i}", nll_oracle=rng.normal(8.7, 1, 1000))
           for i in range(2)]
    out = subprocess.run(
        [sys.executable, "-m", "seqgan_tf.analysis.compare", f"--a={mle[0]}",
         f"--b={gan[0]}"], cwd=REPO, capture_output=True, text=True,
        timeout=120)
    self.assertEqual(out.returncode, 0, out.stderr)
    self.assertIn("(1000 samples)", out.stdout)
    p = float(out.stdout.split("p = ")[1].split()[0])
    self.assertAlmostEqual(p, stats.ttest_ind(
        np.load(f"{mle[0]}/final_scores.npz")["nll_oracle"],
        np.load(f"{gan[0]}/final_scores.npz")["nll_oracle"],
        equal_var=False).pvalue, delta=5e-3 * p)   # printed to 3 digits
    self.assertIn("(2 runs (one mean each))",
                  compare.compare(mle, gan, "nll_oracle"))
    # Paired by order against scipy's paired test.
    means = [[np.load(f"{r}/final_scores.npz")["nll_oracle"].mean()
              for r in side] for side in (mle, gan)]
    more = [write_run(f"{tmp}/x{i}", nll_oracle=rng.normal(9.0, 1, 100))
            for i in range(2)]
    text = compare.compare(mle + more[:1], gan + more[1:], "nll_oracle",
                           paired=True)
    a = np.array(means[0] + [np.load(f"{more[0]}/final_scores.npz")[
        "nll_oracle"].mean()])
    b = np.array(means[1] + [np.load(f"{more[1]}/final_scores.npz")[
        "nll_oracle"].mean()])
    p_paired = stats.ttest_rel(b, a).pvalue
    self.assertIn(f"p = {p_paired:.3g} (two-sided)", text)
    self.assertIn(f"{(b - a).mean():+.4f}", text)
    with self.assertRaisesRegex(ValueError, "as many runs in A as in B"):
      compare.compare(mle, gan[:1] + more, "nll_oracle", paired=True)
    with self.assertRaisesRegex(ValueError, "has no 'bleu2'"):
      compare.compare(mle[:1], gan[:1], "bleu2")
    with self.assertRaisesRegex(ValueError, "does not exist"):
      compare.compare([tmp], gan[:1])


if __name__ == "__main__":
  tf.test.main()
