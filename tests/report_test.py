"""The Table 1 report and the temperature sweep."""

import json
import os

import numpy as np
import tensorflow as tf
from scipy import stats

from conftest import smoke_config
from seqgan_tf import config as config_lib
from seqgan_tf.analysis import report, sweep
from seqgan_tf.training import loop


def fake_run(folder, scores, seconds, metrics=None, results=None, **config):
  """A finished run's files: config, results and per-sample scores."""
  os.makedirs(folder, exist_ok=True)
  full = {"method": "seqgan", "pretrain_gen_epochs": 120,
          "pretrain_dis_steps": 0, "dis_epochs": 1, "adv_iterations": 0,
          "adv_g_steps": 1, "adv_d_steps": 1, "rollout_update_rate": 0.0,
          "rollout_num": 16, "init_from": "", **config}
  with open(os.path.join(folder, "config.json"), "w") as f:
    json.dump({"full": full}, f)
  with open(os.path.join(folder, "results.json"), "w") as f:
    json.dump({"wall_seconds": seconds, **(results or {})}, f)
  np.savez(os.path.join(folder, "final_scores.npz"),
           **(metrics or {"nll_oracle": scores}))
  return folder


class ReportTest(tf.test.TestCase):

  def test_table_against_scipy(self):
    root = self.create_tempdir().full_path
    rng = np.random.default_rng(0)
    mle = fake_run(f"{root}/mle", rng.normal(9.0, 1.0, 500), 600.0,
                   method="mle")
    gan = fake_run(f"{root}/gan", rng.normal(8.8, 1.0, 400), 300.0,
                   adv_iterations=40, init_from=mle)
    seeds = [fake_run(f"{root}/s{i}", rng.normal(9.0 + 0.01 * i, 1.0, 50),
                      60.0, method="mle") for i in range(3)]
    text = report.table([("mle", [mle]), ("seqgan", [gan]),
                         ("mle3", seeds)], "seqgan")
    lines = text.splitlines()
    self.assertLen(lines, 5)
    p_samples = stats.ttest_ind(np.load(f"{mle}/final_scores.npz")["nll_oracle"],
                                np.load(f"{gan}/final_scores.npz")["nll_oracle"],
                                equal_var=False).pvalue
    self.assertIn(f"| {p_samples:.2g} |", lines[2])
    self.assertIn("| 9.038 |", lines[2])                    # the paper's MLE
    # SeqGAN's wall clock, then that of its --init_from run.
    self.assertIn("| 5 min + 10 min |", lines[3])
    self.assertIn(f"from `{mle}`", lines[3])
    means = [np.load(f"{s}/final_scores.npz")["nll_oracle"].mean()
             for s in seeds]
    self.assertIn(f"{np.mean(means):.3f} ± {np.std(means, ddof=1):.3f} (sd, 3 "
                  "seeds)", lines[4])
    self.assertIn("n/a", lines[4])        # 3 seeds against 1 run: no test
    far = fake_run(f"{root}/far", rng.normal(20.0, 1.0, 500), 60.0)
    self.assertIn("| < 1e-300 |", report.table(
        [("far", [far]), ("seqgan", [gan])], "seqgan").splitlines()[2])
    # Groups against groups compare the runs' means.
    text = report.table([("a", seeds[:2]), ("b", seeds[1:])], "b")
    p_groups = stats.ttest_ind(means[:2], means[1:], equal_var=False).pvalue
    self.assertIn(f"| {p_groups:.2g} |", text.splitlines()[2])

  def test_readme_block_is_replaced_and_the_rest_kept(self):
    path = os.path.join(self.create_tempdir().full_path, "README.md")
    with open(path, "w") as f:
      f.write(f"before\n{report.BEGIN}\nold\n{report.END}\nafter\n")
    report.replace_block(path, "| new |\n")
    with open(path) as f:
      self.assertEqual(f.read(), f"before\n{report.BEGIN}\n| new |\n"
                       f"{report.END}\nafter\n")

  def test_real_data_table_against_scipy(self):
    root = self.create_tempdir().full_path
    rng = np.random.default_rng(1)
    mle_scores = {"bleu4": rng.uniform(0.88, 0.96, 300),
                  "pitch_mse": rng.normal(25.0, 5.0, 300)}
    gan_scores = {"bleu4": rng.uniform(0.90, 0.97, 200),
                  "pitch_mse": rng.normal(21.0, 5.0, 200)}
    mle = fake_run(f"{root}/mle", None, 120.0, mle_scores,
                   {"self_bleu4": 0.9231, "nll_test": 1.6444}, method="mle")
    gan = fake_run(f"{root}/gan", None, 240.0, gan_scores,
                   {"self_bleu4": 0.9276, "nll_test": 1.6452},
                   adv_iterations=15, init_from=mle)
    lines = report.text_table([("nottingham", [mle], [gan])]).splitlines()
    # header, rule, BLEU-4, pitch MSE, then Self-BLEU at BLEU-4's order and
    # NLL-test: one figure a run, so no test between single runs.
    self.assertLen(lines, 6)
    self.assertIn("| nottingham | self_bleu4 | 0.923 | 0.928 | – (one run a "
                  "side) | – |", lines[4])
    self.assertIn("| nottingham | nll_test | 1.644 | 1.645 |", lines[5])
    for line, metric in zip(lines[2:], ("bleu4", "pitch_mse")):
      a, b = mle_scores[metric], gan_scores[metric]
      p = stats.ttest_ind(a, b, equal_var=False).pvalue
      se = b.std(ddof=1) / np.sqrt(len(b))
      self.assertIn(f"| nottingham | {metric} |", line)
      self.assertIn(f"| {b.mean():.3f} ± {se:.3f} | {p:.2g} |", line)
      self.assertIn("| 2 min; 4 min + 2 min |", line)
    self.assertIn("0.921 → 0.9406", lines[2])            # the paper's Table 4
    with self.assertRaisesRegex(ValueError, "unknown corpus 'news'"):
      report.text_table([("news", [mle], [gan])])
    with self.assertRaisesRegex(ValueError, "CORPUS:MLE_RUN:SEQGAN_RUN"):
      report.parse_pairs(["obama:runs/a"])

  def test_real_data_table_over_seeds(self):
    root = self.create_tempdir().full_path
    rng = np.random.default_rng(2)
    def scores(low):     # COCO's metrics: BLEU-2 to BLEU-5
      return {f"bleu{n}": rng.uniform(low, low + 0.2, 100) for n in range(2, 6)}
    self_bleu = ([0.67, 0.68, 0.66], [0.75, 0.77, 0.78])
    mle = [fake_run(f"{root}/mle{i}", None, 60.0, scores(0.6 + 0.01 * i),
                    {"self_bleu2": self_bleu[0][i],
                     "nll_test": 4.39 + 0.01 * i}, method="mle")
           for i in range(3)]
    gan = [fake_run(f"{root}/gan{i}", None, 60.0, scores(0.65),
                    {"self_bleu2": self_bleu[1][i],
                     "nll_test": 4.61 - 0.01 * i},
                    adv_iterations=15, init_from=mle[i], mle_patience=5,
                    pg_learning_rate=0.001) for i in range(3)]
    pairs = report.parse_pairs(["coco:" + "+".join(mle) + ":" + "+".join(gan)])
    self.assertEqual(pairs, [("coco", mle, gan)])
    lines = report.text_table(pairs).splitlines()
    line = lines[2]
    # COCO's headline is BLEU-2, so Self-BLEU-2: over seeds, mean ± s.d. and
    # Welch's p over the seeds' values (0.67 ± 0.01 against 0.7667 ± 0.0153).
    p = stats.ttest_ind(*self_bleu, equal_var=False).pvalue
    self.assertIn(f"| coco | self_bleu2 | 0.670 ± 0.010 (sd, 3 seeds) | "
                  f"0.767 ± 0.015 (sd, 3 seeds) | {p:.2g} | – |", lines[6])
    self.assertIn("| coco | nll_test | 4.400 ± 0.010 (sd, 3 seeds) | "
                  "4.600 ± 0.010 (sd, 3 seeds) |", lines[7])
    scores = [[np.load(f"{r}/final_scores.npz")["bleu2"] for r in runs]
              for runs in (mle, gan)]
    means = [np.array([v.mean() for v in side]) for side in scores]
    for m in means:                         # mean ± s.d. over the 3 seeds
      self.assertIn(f"| {m.mean():.3f} ± {m.std(ddof=1):.3f} (sd, 3 seeds) |",
                    line)
    p_seeds = stats.ttest_ind(*means, equal_var=False).pvalue
    per_seed = [stats.ttest_ind(a, b, equal_var=False).pvalue
                for a, b in zip(*scores)]
    self.assertIn(f"| {p_seeds:.2g}; per seed "
                  + ", ".join(f"{p:.2g}" for p in per_seed) + " |", line)
    self.assertIn("(first seed) |", line)
    self.assertIn("| MLE ≤120 ep (early stopping, patience 5); 15 it. (1 G, "
                  "1×1 D ep; reward D, r=0, N=16, PG lr 0.001)", line)

  def test_unfinished_run_is_named(self):
    folder = self.create_tempdir().full_path
    with self.assertRaisesRegex(ValueError, "final_scores.npz does not exist"):
      report.table([("seqgan", [folder])], "seqgan")
    with self.assertRaisesRegex(ValueError, "LABEL:RUN"):
      report.parse_rows(["runs/x"])


class SweepTest(tf.test.TestCase):

  def test_tempered_generator_divides_the_logits(self):
    workdir = self.create_tempdir().full_path
    config = smoke_config(method="mle", pretrain_dis_steps=0,
                          adv_iterations=0, pretrain_gen_epochs=1)
    g = loop.Trainer(config, workdir, None).model.generator
    tokens = tf.constant(np.random.default_rng(0).integers(0, 32, (5, 8)),
                         tf.int32)
    logits = g(tokens).numpy().astype(np.float64) / 0.5
    logits -= logits.max(-1, keepdims=True)
    expected = np.take_along_axis(logits, tokens.numpy()[..., None], -1)[..., 0]
    expected -= np.log(np.exp(logits).sum(-1))
    self.assertAllClose(sweep.tempered(g, 0.5).log_probs(tokens), expected,
                        atol=1e-4)

  def test_sweep_of_a_trained_run(self):
    workdir = self.create_tempdir().full_path
    loop.train_and_evaluate(smoke_config(method="mle", pretrain_dis_steps=0,
                                          adv_iterations=0), workdir)
    rows = sweep.sweep_run("mle", workdir, [0.5, 1.0, 2.0], None)
    nll_oracle = [r["nll_oracle"] for r in rows]
    nll_test = [r["nll_test"] for r in rows]
    # Colder sampling picks likelier sequences (lower NLL-oracle) and covers
    # held-out data worse than the model itself (higher NLL-test at 0.5).
    self.assertLess(nll_oracle[0], nll_oracle[1])
    self.assertLess(nll_oracle[1], nll_oracle[2])
    self.assertGreater(nll_test[0], nll_test[1])
    out = self.create_tempdir().full_path
    sweep.write(rows, out)
    with open(os.path.join(out, "sweep.png"), "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
    with open(os.path.join(out, "sweep.json")) as f:
      self.assertLen(json.load(f), 3)
    self.assertNotEmpty(os.listdir(os.path.join(out, "tensorboard")))

  def test_verdict_at_equal_diversity_by_hand(self):
    def row(run, x, y):
      return {"run": run, "task": "coco", "self_bleu2": x, "bleu2": y,
              "bleu3": 0.0, "distinct": 1.0, "temperature": 1.0}
    rows = [row("mle", 0.5, 0.6), row("mle", 0.7, 0.75), row("mle", 0.6, 0.7),
            row("seqgan", 0.55, 0.672),  # MLE there: 0.65 -> +0.022
            row("seqgan", 0.65, 0.709),  # MLE there: 0.725 -> -0.016
            row("seqgan", 0.80, 0.90)]   # beyond MLE's range: not compared
    self.assertEqual(
        sweep.verdict(rows, "mle", "seqgan"),
        "seqgan against mle at equal self_bleu2: bleu2 +0.003 on average "
        "(from -0.016 to +0.022); seqgan lies above (better) at 1 of 2 points "
        "within mle's range.")
    # The axes: the paper's headline BLEU order per corpus, else the lowest.
    metrics = {f"bleu{n}": 0.5 for n in range(2, 6)}
    metrics.update(bleu2_stderr=0.1, self_bleu2=0.5)
    self.assertEqual(sweep.axes("nottingham", metrics),
                     ("self_bleu4", "bleu4"))
    self.assertEqual(sweep.axes("obama", metrics), ("self_bleu3", "bleu3"))
    self.assertEqual(sweep.axes("text", metrics), ("self_bleu2", "bleu2"))
    self.assertEqual(sweep.axes("synthetic", metrics),
                     ("nll_test", "nll_oracle"))
    self.assertIn("no point of far", sweep.verdict(
        rows + [row("far", 0.9, 0.1)], "mle", "far"))

  def test_training_data_point_scores_training_sequences(self):
    tmp = self.create_tempdir().full_path
    corpus = os.path.join(tmp, "corpus.txt")
    with open(corpus, "w") as f:     # 40 distinct lines, 4 + 1 tokens each
      for i in range(40):
        f.write(f"w{i % 8} v{i // 8} a b\n")
    config = config_lib.Config(
        task="text", train_file=corpus, test_file=corpus, vocab_size=40,
        seq_length=6, gen_emb_dim=8, gen_hidden_dim=8, batch_size=8,
        method="mle", pretrain_gen_epochs=1, pretrain_dis_steps=0,
        adv_iterations=0, eval_samples=16, self_bleu_samples=16,
        nll_samples=16, bleu_ngrams=(2, 3), dis_compute_dtype="float32")
    workdir = os.path.join(tmp, "run")
    loop.train_and_evaluate(config, workdir)
    row = sweep.data_row(workdir, None)
    # The test set is the training set: every training line is one of the
    # references, so its BLEU is 1; 16 of the 40 distinct lines are drawn.
    self.assertEqual(row["run"], sweep.DATA_LABEL)
    self.assertAllClose([row["bleu2"], row["bleu3"]], [1.0, 1.0], atol=1e-9)
    self.assertEqual(row["distinct"], 1.0)
    self.assertBetween(row["self_bleu2"], 0.0, 1.0)
    self.assertNotIn("nll_test", row)


if __name__ == "__main__":
  tf.test.main()
