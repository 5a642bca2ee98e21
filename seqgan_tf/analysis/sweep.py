"""Quality against diversity: a temperature sweep of trained generators.

  python -m seqgan_tf.analysis.sweep --runs=mle:runs/t1_mle,seqgan:runs/t1_seqgan \\
      --temperatures=0.7,0.8,0.9,1.0,1.1,1.2,1.3 --out=runs/sweep

Caccia et al. ("Language GANs Falling Short") judge a GAN against MLE across
temperatures, not at one point: a lower temperature buys quality with
diversity. For each run and temperature, G's logits are divided by the
temperature and the task's evaluation is run on that policy: NLL-oracle
(quality) against NLL-test (coverage of held-out oracle samples) on the
synthetic task, BLEU against Self-BLEU on text. The same seed is used at every
point. On text the training data's own point is added (as many training
sequences as samples, scored as samples are: what a generator that had learnt
the data exactly would reach), and each run after the first gets a one-line
verdict: its quality at equal diversity against the first run's curve.
Writes OUT/sweep.json, OUT/sweep.md, OUT/sweep.png and a TensorBoard image
and scalars (OUT/tensorboard).
"""

from __future__ import annotations

import functools
import io
import json
import os
import sys

import numpy as np
import tensorflow as tf
from absl import app, flags

from seqgan_tf import config as config_lib, export, seeds, tasks
from seqgan_tf.analysis import report
from seqgan_tf.modeling import Generator
from seqgan_tf.seeds import SeedPath
from seqgan_tf.training import workdir as workdir_lib



def tempered(generator: Generator, temperature: float,
             copy: Generator | None = None) -> Generator:
  """A copy of G whose distribution is softmax(logits / temperature).

  Dividing the output layer's kernel and bias by the temperature divides the
  logits, so sampling and log-probabilities need no other change. Passing the
  previous `copy` back reuses it, so the evaluation's compiled functions are
  traced once per run, not once per temperature.
  """
  if copy is None:
    copy = Generator(generator.vocab_size, generator.embedding.output_dim,
                     generator.hidden_dim, generator.seq_length,
                     generator.start_token, name="tempered")
  copy.set_weights(generator.get_weights())
  copy.output_layer.kernel.assign(generator.output_layer.kernel / temperature)
  copy.output_layer.bias.assign(generator.output_layer.bias / temperature)
  return copy


def axes(task_name: str, metrics: dict) -> tuple[str, str]:
  """(x: diversity, y: quality) metric names for a task's evaluation."""
  if task_name == "synthetic":
    return "nll_test", "nll_oracle"
  # A named corpus: the paper's first BLEU order for it (Obama BLEU-3,
  # Nottingham BLEU-4, where BLEU-2 is near 1 for every model); else the
  # lowest order evaluated.
  orders = sorted(int(k[4:]) for k in metrics
                  if k.startswith("bleu") and k[4:].isdigit())
  headline = [int(k[4:]) for k in report.PAPER_TEXT.get(task_name, {})
              if k.startswith("bleu") and int(k[4:]) in orders]
  n = headline[0] if headline else orders[0]
  return f"self_bleu{n}", f"bleu{n}"


DATA_LABEL = "training data"


@functools.lru_cache(maxsize=None)   # the data point reuses the first run's
def run_task(workdir: str, samples: int | None
             ) -> tuple[config_lib.Config, tasks.Task]:
  """A run's config (with `samples` per evaluation) and its task."""
  saved = workdir_lib.saved_config(workdir)
  if saved is None:
    raise ValueError(f"{workdir} holds no run (no config.json).")
  config = config_lib.Config.from_json(json.dumps(saved))
  if samples:
    config = config_lib.replace(config, nll_samples=samples,
                                eval_samples=samples)
  return config, tasks.build(config, workdir)


def sweep_run(label: str, workdir: str, temperatures: list[float],
              samples: int | None) -> list[dict]:
  """The task's metrics of one run's final G at each temperature."""
  config, task = run_task(workdir, samples)
  generator = export.restore_generator(config, workdir)
  seed = seeds.stateless_seed(config.seed, SeedPath.SWEEP)
  rows, copy = [], None
  for temperature in temperatures:
    copy = tempered(generator, temperature, copy)
    metrics, _, _ = task.evaluate(copy, seed, False)
    rows.append({"run": label, "task": config.task,
                 "temperature": temperature, **metrics})
  return rows


def data_row(workdir: str, samples: int | None) -> dict:
  """The text task's scores of its own training sequences (as many as a
  run's evaluation samples, drawn without replacement), as a sweep row."""
  config, task = run_task(workdir, samples)
  rng = np.random.default_rng(seeds.int_seed(config.seed, SeedPath.SWEEP))
  count = min(config.eval_samples, len(task.real))
  rows = task.real[rng.choice(len(task.real), count, replace=False)]
  metrics, _ = task.score(rows)
  return {"run": DATA_LABEL, "task": config.task, "temperature": 1.0,
          **metrics, "distinct": tasks.distinct_fraction(rows)}


def verdict(rows: list[dict], reference: str, label: str) -> str:
  """One line: `label`'s quality against `reference`'s curve at equal
  diversity (linear between the reference's points; only where they span)."""
  x, y = axes(rows[0]["task"], rows[0])
  ref = sorted((r[x], r[y]) for r in rows if r["run"] == reference)
  ours = [(r[x], r[y]) for r in rows if r["run"] == label]
  inside = [(a, b) for a, b in ours if ref[0][0] <= a <= ref[-1][0]]
  if len(ref) < 2 or not inside:
    return (f"{label} against {reference}: no point of {label} lies within "
            f"{reference}'s range of {x}, so no comparison at equal {x}.")
  gaps = np.array([b - np.interp(a, *zip(*ref)) for a, b in inside])
  better = gaps < 0 if y.startswith("nll") else gaps > 0
  side = "below" if y.startswith("nll") else "above"
  return (f"{label} against {reference} at equal {x}: {y} {gaps.mean():+.3f} "
          f"on average (from {gaps.min():+.3f} to {gaps.max():+.3f}); "
          f"{label} lies {side} (better) at {int(better.sum())} of "
          f"{len(gaps)} points within {reference}'s range.")


def markdown(rows: list[dict]) -> str:
  x, y = axes(rows[0]["task"], rows[0])
  columns = [y, x] + [k for k in ("nll_test", "pitch_mse")
                      if k in rows[0] and k not in (x, y)] + ["distinct"]
  lines = ["| run | temperature | " + " | ".join(columns) + " |",
           "|---|---|" + "---|" * len(columns)]
  for r in rows:
    temperature = "–" if r["run"] == DATA_LABEL else f"{r['temperature']:g}"
    values = [f"{r[k]:.3f}" if k in r else "–" for k in columns]
    lines.append(f"| {r['run']} | {temperature} | " + " | ".join(values)
                 + " |")
  labels = [r for r in dict.fromkeys(r["run"] for r in rows)
            if r != DATA_LABEL]
  lines += [""] + [verdict(rows, labels[0], label) for label in labels[1:]]
  return "\n".join(lines) + "\n"


def plot(rows: list[dict]) -> bytes:
  """The frontier, one line per run, each point labelled by its temperature."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  x, y = axes(rows[0]["task"], rows[0])
  figure, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
  for label in dict.fromkeys(r["run"] for r in rows):
    points = [r for r in rows if r["run"] == label]
    if label == DATA_LABEL:
      ax.plot([p[x] for p in points], [p[y] for p in points], "k*",
              markersize=12, label=label)
      continue
    ax.plot([p[x] for p in points], [p[y] for p in points], "o-", label=label)
    for p in points:
      ax.annotate(f"{p['temperature']:g}", (p[x], p[y]), fontsize=7,
                  textcoords="offset points", xytext=(4, 4))
  ax.set_xlabel(f"{x} (diversity; lower is better)" if x == "nll_test" else
                f"{x} (lower is more diverse)")
  ax.set_ylabel(f"{y} (quality; lower is better)" if y == "nll_oracle" else
                f"{y} (quality; higher is better)")
  ax.set_title(f"Quality against diversity over temperature: {rows[0]['task']}")
  ax.legend()
  ax.grid(alpha=0.3)
  figure.tight_layout()
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png")
  plt.close(figure)
  return buffer.getvalue()


def write(rows: list[dict], out: str) -> None:
  """sweep.json, sweep.md, sweep.png and TensorBoard records in `out`."""
  tf.io.gfile.makedirs(out)
  workdir_lib.write_atomic(os.path.join(out, "sweep.json"),
                           json.dumps(rows, indent=2))
  workdir_lib.write_atomic(os.path.join(out, "sweep.md"), markdown(rows))
  png = plot(rows)
  workdir_lib.write_atomic(os.path.join(out, "sweep.png"), png)
  writer = tf.summary.create_file_writer(os.path.join(out, "tensorboard"))
  with writer.as_default():
    image = tf.io.decode_png(png, channels=4)[None]
    tf.summary.image("quality_diversity", image, step=0)
    for r in rows:
      for name, value in r.items():
        if isinstance(value, float) and name != "temperature":
          tf.summary.scalar(f"{r['run']}/{name}", value,
                            step=int(round(100 * r["temperature"])))
  writer.flush()


def define_flags() -> None:
  """The command's flags (defined only when it runs, so that importing this
  module next to another command defines nothing)."""
  flags.DEFINE_list("runs", [], "LABEL:WORKDIR per generator.")
  flags.DEFINE_list("temperatures", ["0.7", "0.8", "0.9", "1.0", "1.1", "1.2",
                                     "1.3"], "Softmax temperatures.")
  flags.DEFINE_integer("samples", None, "Samples per point (default: the run's "
                       "--nll_samples / --eval_samples).")
  flags.DEFINE_string("out", "runs/sweep", "Output folder.")
  flags.DEFINE_bool("data_point", True, "On text, add the training data's "
                    "own point (scored as samples are).")


def main(argv):
  del argv
  try:
    temperatures = [float(t) for t in flags.FLAGS.temperatures]
    if not temperatures or min(temperatures) <= 0:
      raise ValueError("--temperatures must be positive numbers")
    rows, specs = [], report.parse_rows(flags.FLAGS.runs)
    for label, runs in specs:
      rows += sweep_run(label, runs[0], temperatures, flags.FLAGS.samples)
    if not rows:
      raise ValueError("give --runs=LABEL:WORKDIR[,LABEL:WORKDIR...]")
    if flags.FLAGS.data_point and rows[0]["task"] != "synthetic":
      rows.append(data_row(specs[0][1][0], flags.FLAGS.samples))
  except (ValueError, config_lib.ConfigError) as e:
    print(e, file=sys.stderr)
    return 2
  write(rows, flags.FLAGS.out)
  print(markdown(rows), end="")
  print(f"Figure: {os.path.join(flags.FLAGS.out, 'sweep.png')}")
  return 0


if __name__ == "__main__":
  define_flags()
  app.run(main)
