"""Quality against diversity: a temperature sweep of trained generators.

  python -m seqgan_tf.analysis.sweep --runs=mle:runs/t1_mle,seqgan:runs/t1_seqgan \\
      --temperatures=0.7,0.8,0.9,1.0,1.1,1.2,1.3 --out=runs/sweep

Caccia et al. ("Language GANs Falling Short") judge a GAN against MLE across
temperatures, not at one point: a lower temperature buys quality with
diversity. For each run and temperature, G's logits are divided by the
temperature and the task's evaluation is run on that policy: NLL-oracle
(quality) against NLL-test (coverage of held-out oracle samples) on the
synthetic task, BLEU against Self-BLEU on text. The same seed is used at every
point. Writes OUT/sweep.json, OUT/sweep.md, OUT/sweep.png and a TensorBoard
image and scalars (OUT/tensorboard).
"""

from __future__ import annotations

import io
import json
import os
import sys

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
  n = min(int(k[4:]) for k in metrics if k.startswith("bleu"))
  return f"self_bleu{n}", f"bleu{n}"


def sweep_run(label: str, workdir: str, temperatures: list[float],
              samples: int | None) -> list[dict]:
  """The task's metrics of one run's final G at each temperature."""
  saved = workdir_lib.saved_config(workdir)
  if saved is None:
    raise ValueError(f"{workdir} holds no run (no config.json).")
  config = config_lib.Config.from_json(json.dumps(saved))
  if samples:
    config = config_lib.replace(config, nll_samples=samples,
                                eval_samples=samples)
  task = tasks.build(config, workdir)
  generator = export.restore_generator(config, workdir)
  seed = seeds.stateless_seed(config.seed, SeedPath.SWEEP)
  rows, copy = [], None
  for temperature in temperatures:
    copy = tempered(generator, temperature, copy)
    metrics, _, _ = task.evaluate(copy, seed, False)
    rows.append({"run": label, "task": config.task,
                 "temperature": temperature, **metrics})
  return rows


def markdown(rows: list[dict]) -> str:
  x, y = axes(rows[0]["task"], rows[0])
  lines = [f"| run | temperature | {y} | {x} | distinct |", "|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['run']} | {r['temperature']:g} | {r[y]:.3f} | "
                 f"{r[x]:.3f} | {r['distinct']:.3f} |")
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
    ax.plot([p[x] for p in points], [p[y] for p in points], "o-", label=label)
    for p in points:
      ax.annotate(f"{p['temperature']:g}", (p[x], p[y]), fontsize=7,
                  textcoords="offset points", xytext=(4, 4))
  ax.set_xlabel(f"{x} (diversity; lower is better)" if x == "nll_test" else
                f"{x} (lower is more diverse)")
  ax.set_ylabel(f"{y} (quality; lower is better)" if y == "nll_oracle" else
                f"{y} (quality; higher is better)")
  ax.set_title("Quality against diversity over temperature")
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


def main(argv):
  del argv
  try:
    temperatures = [float(t) for t in flags.FLAGS.temperatures]
    if not temperatures or min(temperatures) <= 0:
      raise ValueError("--temperatures must be positive numbers")
    rows = []
    for label, runs in report.parse_rows(flags.FLAGS.runs):
      rows += sweep_run(label, runs[0], temperatures, flags.FLAGS.samples)
    if not rows:
      raise ValueError("give --runs=LABEL:WORKDIR[,LABEL:WORKDIR...]")
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
