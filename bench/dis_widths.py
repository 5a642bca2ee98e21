"""D's convolution per width, three ways: which is fastest to train on this CPU.

  python bench/dis_widths.py [--repeats=30]

For each of the paper's widths (batch 64, length 20, embedding 64, the paper's
filter counts) times one forward + backward pass (gradients for the input, the
kernel and the bias, as in a D step) of ReLU-convolution-then-max-over-time:

  conv:    keras Conv1D (oneDNN).
  gather:  the windows gathered into [batch * positions, width * emb], one
           matmul (what `Discriminator._conv_max` does for widths 15 and 20).
  slices:  the same matrix built by concatenating `width` shifted slices (its
           gradient is pads instead of a scatter-add).

The three variants alternate within each repeat, so a machine whose speed
drifts affects them alike. Prints median milliseconds per width and the sums.
"""

from __future__ import annotations

import statistics
import time

from absl import app, flags
import keras
import tensorflow as tf

flags.DEFINE_integer("repeats", 30, "Timed passes per width and variant.")
FLAGS = flags.FLAGS

BATCH, LENGTH, EMB = 64, 20, 64
WIDTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
FILTERS = [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
VARIANTS = ("conv", "gather", "slices")


def conv_max(conv: keras.layers.Conv1D, variant: str, x: tf.Tensor
             ) -> tf.Tensor:
  """One width's ReLU convolution and max over time, computed as `variant`.

  Args:
    conv: the width's built layer; every variant uses its kernel and bias.
    variant: one of VARIANTS.
    x: [batch, length, emb].

  Returns:
    [batch, filters].
  """
  if variant == "conv":
    return tf.reduce_max(conv(x), axis=1)
  width, filters = conv.kernel_size[0], conv.filters
  positions, emb = x.shape[1] - width + 1, x.shape[2]
  if variant == "gather":
    starts = tf.range(positions)[:, None] + tf.range(width)[None, :]
    windows = tf.gather(x, starts, axis=1)        # [b, pos, width, emb]
  else:
    windows = tf.concat([x[:, k:k + positions] for k in range(width)], -1)
  y = tf.nn.relu(tf.matmul(tf.reshape(windows, [-1, width * emb]),
                           tf.reshape(conv.kernel, [width * emb, filters]))
                 + conv.bias)
  return tf.reduce_max(tf.reshape(y, [-1, positions, filters]), axis=1)


def train_pass(conv: keras.layers.Conv1D, variant: str, x: tf.Variable):
  """A tf.function: one forward + backward pass of `conv_max`, with the
  gradients of a D step (input, kernel, bias); returns one value to fetch."""

  @tf.function(autograph=False)
  def run():
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(conv_max(conv, variant, x))
    grads = tape.gradient(loss, [x, conv.kernel, conv.bias])
    return tf.add_n([tf.reduce_sum(g) for g in grads])

  return run


def main(argv):
  del argv
  x = tf.Variable(tf.random.normal([BATCH, LENGTH, EMB], seed=0))
  totals = dict.fromkeys(VARIANTS, 0.0)
  best = 0.0
  print("width  " + "  ".join(f"{v:>7}" for v in VARIANTS) + "   (ms, median)")
  for width, filters in zip(WIDTHS, FILTERS):
    conv = keras.layers.Conv1D(filters, width, activation="relu")
    conv.build([None, LENGTH, EMB])
    passes = {v: train_pass(conv, v, x) for v in VARIANTS}
    for run in passes.values():   # trace, then warm up
      run()
      run()
    seconds = {v: [] for v in VARIANTS}
    for _ in range(FLAGS.repeats):
      for variant, run in passes.items():
        start = time.perf_counter()
        run().numpy()
        seconds[variant].append(time.perf_counter() - start)
    ms = {v: 1e3 * statistics.median(s) for v, s in seconds.items()}
    for v in VARIANTS:
      totals[v] += ms[v]
    best += min(ms.values())
    print(f"{width:>5}  " + "  ".join(f"{ms[v]:7.2f}" for v in VARIANTS))
  print("sum    " + "  ".join(f"{totals[v]:7.2f}" for v in VARIANTS)
        + f"   best per width {best:.2f}")


if __name__ == "__main__":
  app.run(main)
