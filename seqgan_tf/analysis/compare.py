"""The paper's significance test between runs: Welch's t-test.

  python -m seqgan_tf.analysis.compare --a=runs/mle --b=runs/seqgan [--metric=nll_oracle]
  python -m seqgan_tf.analysis.compare --a=runs/mle_s1,runs/mle_s2 --b=runs/gan_s1,runs/gan_s2 [--paired]

One run against one run compares every final sample's score (WORKDIR/
final_scores.npz: per-sequence NLL-oracle, or per-sample BLEU on text), as
the paper's t-test does. Groups of runs (several seeds) compare the runs'
means, one value per run: differences between seeds are then part of the noise,
which is the question a reader of a table over seeds asks. --paired pairs
run i of A with run i of B (the same seed from the same start) and tests the
differences of their means.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
from absl import app, flags

SCORES_FILE = "final_scores.npz"   # workdir.SCORES_FILE, without importing TF


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
  """Welch's two-sided t-test: (t, degrees of freedom, p-value).

  Args:
    a, b: [n] and [m] samples, n, m >= 2.
  """
  from scipy import stats  # pylint: disable=g-import-not-at-top
  va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
  t = (a.mean() - b.mean()) / math.sqrt(va + vb)
  df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
  return float(t), float(df), float(2 * stats.t.sf(abs(t), df))


def paired_t(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
  """The paired two-sided t-test of b - a: (t, degrees of freedom, p-value).

  Args:
    a, b: [n] values, n >= 2, a[i] paired with b[i] (e.g. the same seed).
  """
  from scipy import stats  # pylint: disable=g-import-not-at-top
  result = stats.ttest_rel(b, a)
  return float(result.statistic), float(len(a) - 1), float(result.pvalue)


def load_scores(workdir: str, metric: str | None) -> tuple[str, np.ndarray]:
  """(metric, the run's per-sample final scores of it)."""
  path = os.path.join(workdir, SCORES_FILE)
  if not os.path.exists(path):
    raise ValueError(f"{path} does not exist: the run has not finished its "
                     "final evaluation (or predates per-sample scores).")
  with np.load(path) as scores:
    metric = metric or sorted(scores.files)[0]
    if metric not in scores.files:
      raise ValueError(f"{path} has no {metric!r}; it has "
                       f"{', '.join(scores.files)}.")
    return metric, scores[metric]


def compare(runs_a: list[str], runs_b: list[str],
            metric: str | None = None, paired: bool = False) -> str:
  """The test's result as a few lines of text (paired: run i of A with run i
  of B, e.g. the same seed from the same start, a paired t-test over them)."""
  metric, _ = load_scores(runs_a[0], metric)
  a = [load_scores(r, metric)[1] for r in runs_a]
  b = [load_scores(r, metric)[1] for r in runs_b]
  if len(a) == 1 and len(b) == 1:
    x, y, unit = a[0], b[0], "samples"
  else:
    x, y = np.array([s.mean() for s in a]), np.array([s.mean() for s in b])
    unit = "runs (one mean each)"
    if len(x) < 2 or len(y) < 2:
      raise ValueError("groups of runs need at least two runs on each side.")
  summary = (f"{metric}: A {x.mean():.4f} +- {x.std(ddof=1):.4f} "
             f"({len(x)} {unit}), B {y.mean():.4f} +- {y.std(ddof=1):.4f} "
             f"({len(y)} {unit})\n")
  if paired:
    if len(a) != len(b) or len(a) < 2:
      raise ValueError("--paired needs as many runs in A as in B, 2 or "
                       "more, in the same order (e.g. by seed).")
    t, df, p = paired_t(x, y)
    d = y - x
    return (summary + f"B - A paired by order: {d.mean():+.4f} +- "
            f"{d.std(ddof=1):.4f} (sd of {len(d)} differences), t = {t:.3f}, "
            f"df = {df:.0f}, p = {p:.3g} (two-sided)")
  t, df, p = welch(x, y)
  return (summary + f"Welch's t = {t:.3f}, df = {df:.1f}, p = {p:.3g} "
          "(two-sided)")


def define_flags() -> None:
  """The command's flags (defined only when it runs, so that importing this
  module next to another command defines nothing)."""
  flags.DEFINE_list("a", [], "Run folder(s) of group A.")
  flags.DEFINE_list("b", [], "Run folder(s) of group B.")
  flags.DEFINE_string("metric", None, "Score to compare (default: the first "
                      "in final_scores.npz, e.g. nll_oracle or bleu2).")
  flags.DEFINE_bool("paired", False, "Pair run i of A with run i of B (the "
                    "same seed from one start) and test their differences.")


def main(argv):
  del argv
  if not flags.FLAGS.a or not flags.FLAGS.b:
    print("give --a=RUN[,RUN...] and --b=RUN[,RUN...]", file=sys.stderr)
    return 2
  try:
    print(compare(flags.FLAGS.a, flags.FLAGS.b, flags.FLAGS.metric,
                  flags.FLAGS.paired))
  except ValueError as e:
    print(e, file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  define_flags()
  app.run(main)
