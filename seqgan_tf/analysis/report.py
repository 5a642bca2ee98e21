"""The paper's Table 1 from run folders, as Markdown.

  python -m seqgan_tf.analysis.report \\
      --rows=random:runs/t1_random,mle:runs/t1_mle,ss:runs/t1_ss,pg_bleu:runs/t1_pg_bleu,seqgan:runs/t1_seqgan \\
      [--reference=seqgan] [--metric=nll_oracle] [--readme=README.md]

A row is LABEL:RUN[+RUN...] (several runs: seeds). Each row gives the final
score's mean and spread (one run: ± the standard error over its samples;
several: ± the standard deviation of the runs' means), the p-value of Welch's
t-test against the reference row (compare.py: samples for one run against
one, run means for groups), the schedule read from each run's config.json, and
the wall clock from results.json (this run's + that of the --init_from run it
started from, as "own + earlier").
--readme replaces the text between `<!-- table1:begin -->` and
`<!-- table1:end -->` in that file.

  python -m seqgan_tf.analysis.report \
      --pairs=obama:runs/obama_mle:runs/obama,poems:runs/poems_mle:runs/poems \
      [--readme=README.md]

gives the real-data table instead: per corpus, MLE against SeqGAN on the
paper's metrics for it (each ± its standard error over samples, Welch's p over
the per-sample scores), beside the paper's figures, then Self-BLEU at the
headline BLEU's order and NLL-test (one figure a run, from results.json);
--readme writes it between `<!-- realdata:begin -->` and
`<!-- realdata:end -->`. With several seeds
(CORPUS:MLE_RUN+MLE_RUN...:SEQGAN_RUN+SEQGAN_RUN..., seed i of one side paired
with seed i of the other) each side is the mean ± s.d. of its runs' means, the
p-value is Welch's over those means, and each seed's per-sample p follows it.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
from absl import app, flags

from seqgan_tf.analysis import compare

# The paper's Table 1 (NLL-oracle); the labels are --method's names.
PAPER = {"random": 10.310, "mle": 9.038, "ss": 8.985, "pg_bleu": 8.946,
         "seqgan": 8.736}
BEGIN, END = "<!-- table1:begin -->", "<!-- table1:end -->"
TEXT_BLOCK = ("<!-- realdata:begin -->", "<!-- realdata:end -->")
# The paper's real-data figures (Tables 2-4), MLE -> SeqGAN, and Texygen's
# SeqGAN on COCO (no MLE figure kept here); the metrics each corpus reports.
PAPER_TEXT = {
    "obama": {"bleu3": (0.519, 0.556), "bleu4": (0.416, 0.427)},
    "poems": {"bleu2": (0.6670, 0.7389)},
    "coco": {"bleu2": (None, 0.745), "bleu3": (None, 0.498),
             "bleu4": (None, 0.294), "bleu5": (None, 0.180)},
    "nottingham": {"bleu4": (0.9210, 0.9406), "pitch_mse": (22.38, 20.62)},
}


def _read(run: str, name: str) -> dict:
  path = os.path.join(run, name)
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f"{path} is missing or unreadable ({e}): has the run "
                     "finished?") from e


def config_of(run: str) -> dict:
  return _read(run, "config.json").get("full", {})


def wall_clock(run: str) -> str:
  """The run's training time, plus that of the runs it started from."""
  own = _read(run, "results.json").get("wall_seconds")
  text = "not recorded" if own is None else f"{own / 60:.0f} min"
  source = config_of(run).get("init_from")
  return text if not source else f"{text} + {wall_clock(source)}"


def schedule(run: str) -> str:
  """What the run trained, in the paper's terms."""
  c = config_of(run)
  method = c.get("method", "seqgan")
  parts = [f"MLE {c['pretrain_gen_epochs']} ep"]
  if c.get("mle_patience"):
    parts = [f"MLE ≤{c['pretrain_gen_epochs']} ep (early stopping, patience "
             f"{c['mle_patience']})"]
  if method == "ss":
    parts = [f"SS {c['pretrain_gen_epochs']} ep (w -{c['ss_decay']}/ep)"]
  if c.get("pretrain_dis_steps"):
    parts.append(f"D {c['pretrain_dis_steps']}×{c['dis_epochs']} ep")
  if c.get("adv_iterations"):
    d = (f", {c['adv_d_steps']}×{c['dis_epochs']} D ep"
         if c.get("adv_d_steps") else "")
    reward = (f"BLEU-{c.get('pg_bleu_n', 3)}" if method == "pg_bleu" else "D")
    extra = f", r={c['rollout_update_rate']:g}, N={c['rollout_num']}"
    if c.get("pg_learning_rate"):
      extra += f", PG lr {c['pg_learning_rate']:g}"
    elif c.get("gen_learning_rate", 0.01) != 0.01:   # the authors' rate
      extra += f", G lr {c['gen_learning_rate']:g}"
    if c.get("reward_baseline", "none") != "none":
      extra += f", baseline {c['reward_baseline']}"
    parts.append(f"{c['adv_iterations']} it. ({c['adv_g_steps']} G{d}; "
                 f"reward {reward}{extra})")
  if c.get("init_from"):      # relative to here where it lies below here
    source = c["init_from"]
    if os.path.isabs(source) and not os.path.relpath(source).startswith(".."):
      source = os.path.relpath(source)
    parts.append(f"from `{source}`")
  return "; ".join(parts)


def _mean_se(values: np.ndarray) -> str:
  """A run's mean score ± its standard error over samples."""
  spread = values.std(ddof=1) / math.sqrt(len(values))
  return f"{values.mean():.3f} ± {spread:.3f}"


def _welch_p(x: np.ndarray, y: np.ndarray) -> str:
  p = compare.welch(x, y)[2]
  # Below ~1e-300 the t distribution's tail underflows to 0 in float64.
  return "< 1e-300" if p == 0.0 else f"{p:.2g}"


_NEEDS_GROUPS = "n/a (a group needs a group: 2+ runs on each side)"


def _p_value(x: list[np.ndarray], y: list[np.ndarray]) -> str:
  """Welch's p: over samples for one run each, over run means for groups."""
  if len(x) == 1 and len(y) == 1:
    return _welch_p(x[0], y[0])
  if len(x) < 2 or len(y) < 2:
    return _NEEDS_GROUPS
  return _welch_p(np.array([v.mean() for v in x]),
                  np.array([v.mean() for v in y]))


def _seeds_sd(means: np.ndarray) -> str:
  return (f"{means.mean():.3f} ± {means.std(ddof=1):.3f} (sd, {len(means)} "
          "seeds)")


def _over_seeds(values: list[np.ndarray]) -> str:
  """Runs' mean score: ± its standard error (one run), ± the s.d. of the
  runs' means (several seeds)."""
  if len(values) == 1:
    return _mean_se(values[0])
  return _seeds_sd(np.array([v.mean() for v in values]))


def _summary(runs: list[str], key: str) -> np.ndarray:
  """Each run's `key` from its results.json (one number a run)."""
  values = []
  for run in runs:
    value = _read(run, "results.json").get(key)
    if value is None:
      raise ValueError(f"{run}/results.json has no {key!r}: the run predates "
                       "it or has not finished.")
    values.append(float(value))
  return np.array(values)


def _summary_row(mle: np.ndarray, gan: np.ndarray) -> tuple[str, str, str]:
  """(MLE, SeqGAN, p) cells of a run-level figure: the value (one run) or
  mean ± s.d. over seeds with Welch's p over them (no per-sample scores)."""
  if len(mle) == 1 and len(gan) == 1:
    return f"{mle[0]:.3f}", f"{gan[0]:.3f}", "– (one run a side)"
  cells = [f"{v[0]:.3f}" if len(v) == 1 else _seeds_sd(v) for v in (mle, gan)]
  p = (_welch_p(mle, gan) if min(len(mle), len(gan)) > 1 else
       _NEEDS_GROUPS)
  return cells[0], cells[1], p


def table(rows: list[tuple[str, list[str]]], reference: str,
          metric: str | None = None) -> str:
  """Table 1 as Markdown. rows: (label, run folders)."""
  labels = [label for label, _ in rows]
  if reference not in labels:
    raise ValueError(f"--reference={reference} is not a row label "
                     f"({', '.join(labels)}).")
  metric, _ = compare.load_scores(rows[0][1][0], metric)
  scores = {label: [compare.load_scores(r, metric)[1] for r in runs]
            for label, runs in rows}
  ref = scores[reference]
  header = (f"| method | {metric} | p vs {reference} (Welch) | paper | "
            "schedule | wall clock |\n|---|---|---|---|---|---|")
  lines = [header]
  for label, runs in rows:
    values = scores[label]
    what = (f"{_mean_se(values[0])} (s.e., {len(values[0]):,} samples)"
            if len(values) == 1 else _over_seeds(values))
    p = "–" if label == reference else _p_value(values, ref)
    paper = f"{PAPER[label]:.3f}" if metric == "nll_oracle" and label in PAPER else ""
    clock = wall_clock(runs[0]) + (" (first seed)" if len(runs) > 1 else "")
    lines.append(f"| {label} | {what} | {p} | {paper} | {schedule(runs[0])} "
                 f"| {clock} |")
  return "\n".join(lines) + "\n"


def _paper_pair(pair: tuple[float | None, float]) -> str:
  mle, gan = pair
  return f"{gan:g}" if mle is None else f"{mle:g} → {gan:g}"


def text_table(pairs: list[tuple[str, list[str], list[str]]]) -> str:
  """MLE against SeqGAN on real data, as Markdown.

  Args:
    pairs: (corpus, MLE runs, SeqGAN runs) per corpus, one run per seed; the
      corpus names the metrics (PAPER_TEXT) and the paper's figures.
  """
  lines = ["| corpus | metric | MLE | SeqGAN | p (Welch) | paper | schedule "
           "(SeqGAN run) | wall clock (MLE; SeqGAN) |",
           "|---|---|---|---|---|---|---|---|"]
  for corpus, mle_runs, gan_runs in pairs:
    if corpus not in PAPER_TEXT:
      raise ValueError(f"--pairs: unknown corpus {corpus!r}; one of "
                       f"{', '.join(PAPER_TEXT)}.")
    seeds = "" if len(gan_runs) == 1 else " (first seed)"
    same = (f"| {schedule(gan_runs[0])} | {wall_clock(mle_runs[0])}; "
            f"{wall_clock(gan_runs[0])}{seeds} |")
    for metric, paper in PAPER_TEXT[corpus].items():
      mle, gan = ([compare.load_scores(run, metric)[1] for run in runs]
                  for runs in (mle_runs, gan_runs))
      p = _p_value(mle, gan)
      if len(mle) > 1 and len(mle) == len(gan):   # each seed's own test
        p += "; per seed " + ", ".join(
            _p_value([a], [b]) for a, b in zip(mle, gan))
      lines.append(f"| {corpus} | {metric} | {_over_seeds(mle)} | "
                   f"{_over_seeds(gan)} | {p} | {_paper_pair(paper)} {same}")
    # What a BLEU gain may cost: diversity at the headline BLEU's order
    # (higher Self-BLEU: less diverse) and coverage of the test set.
    order = next(m for m in PAPER_TEXT[corpus] if m.startswith("bleu"))[4:]
    for key in (f"self_bleu{order}", "nll_test"):
      mle, gan, p = _summary_row(_summary(mle_runs, key),
                                 _summary(gan_runs, key))
      lines.append(f"| {corpus} | {key} | {mle} | {gan} | {p} | – {same}")
  return "\n".join(lines) + "\n"


def replace_block(path: str, text: str,
                  markers: tuple[str, str] = (BEGIN, END)) -> None:
  """Puts `text` between the markers of `path` (atomically)."""
  with open(path) as f:
    content = f.read()
  begin, end_marker = markers
  start, end = content.find(begin), content.find(end_marker)
  if start < 0 or end < start:
    raise ValueError(f"{path} has no {begin} ... {end_marker} block to "
                     "replace.")
  content = content[:start + len(begin)] + "\n" + text + content[end:]
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w") as f:
    f.write(content)
  os.replace(tmp, path)


def parse_rows(specs: list[str]) -> list[tuple[str, list[str]]]:
  rows = []
  for spec in specs:
    label, sep, runs = spec.partition(":")
    if not sep or not runs:
      raise ValueError(f"--rows entry {spec!r}: write LABEL:RUN[+RUN...]")
    rows.append((label, runs.split("+")))
  return rows


def parse_pairs(specs: list[str]) -> list[tuple[str, list[str], list[str]]]:
  pairs = []
  for spec in specs:
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
      raise ValueError(f"--pairs entry {spec!r}: write CORPUS:MLE_RUN:"
                       "SEQGAN_RUN (several seeds: RUN+RUN...)")
    pairs.append((parts[0], parts[1].split("+"), parts[2].split("+")))
  return pairs


def define_flags() -> None:
  """The command's flags (defined only when it runs, so that importing this
  module next to another command defines nothing)."""
  flags.DEFINE_list("rows", [], "LABEL:RUN[+RUN...] per row, in order.")
  flags.DEFINE_list("pairs", [], "CORPUS:MLE_RUN:SEQGAN_RUN per corpus "
                    "(several seeds: RUN+RUN...): the real-data table "
                    "instead of Table 1.")
  flags.DEFINE_string("reference", "seqgan", "The row p-values compare with.")
  flags.DEFINE_string("metric", None, "Score (default: the first in "
                      "final_scores.npz: nll_oracle, or bleu2 on text).")
  flags.DEFINE_string("readme", None, "Also write the table into this file's "
                      "table1 block.")


def main(argv):
  del argv
  try:
    if flags.FLAGS.pairs:
      text = text_table(parse_pairs(flags.FLAGS.pairs))
      markers = TEXT_BLOCK
    else:
      text = table(parse_rows(flags.FLAGS.rows), flags.FLAGS.reference,
                   flags.FLAGS.metric)
      markers = (BEGIN, END)
    if flags.FLAGS.readme:
      replace_block(flags.FLAGS.readme, text, markers)
  except ValueError as e:
    print(e, file=sys.stderr)
    return 2
  print(text, end="")
  return 0


if __name__ == "__main__":
  define_flags()
  app.run(main)
