"""D's compute dtype chosen by measurement (`--dis_compute_dtype=auto`).

bfloat16 halves D's arithmetic cost only on hardware with bfloat16 units
(AMX or AVX512-BF16 CPUs, recent GPUs); elsewhere it is emulated and several
times slower (bench/README.md). So `auto` times a few of D's training steps in
each dtype at start-up and takes bfloat16 only where it is at least
`MIN_SPEEDUP` faster. Variables stay float32 either way, so checkpoints do
not depend on the choice.
"""

from __future__ import annotations

import statistics
import time

import tensorflow as tf
from absl import logging

from seqgan_tf import config as config_lib
from seqgan_tf.config import Config
from seqgan_tf.modeling import Discriminator
from seqgan_tf.training import distribute, optim

MIN_SPEEDUP = 0.10   # bfloat16 must take at most 90% of float32's time
TIMED_STEPS = 5


def choose(float32_seconds: float, bfloat16_seconds: float) -> str:
  """The dtype to use, given one D step's time in each."""
  return ("bfloat16" if bfloat16_seconds <= (1.0 - MIN_SPEEDUP) *
          float32_seconds else "float32")


def time_dis_step(config: Config, dtype: str,
                  steps: int = TIMED_STEPS) -> float:
  """Median seconds of one D training step (forward, gradient, Adam) at the
  run's shapes, after two untimed steps (tracing, warm-up)."""
  widths, counts = config.dis_kernels()
  dis = Discriminator(config.vocab_size, config.dis_emb_dim, widths, counts,
                      config.dis_dropout_keep, config.dis_l2, seed=0,
                      compute_dtype=dtype, name=f"probe_{dtype}")
  adam = optim.make_adam(config.dis_learning_rate, None, f"probe_{dtype}")
  adam.build(dis.trainable_variables)
  shape = [config.batch_size, config.seq_length]
  tokens = tf.random.stateless_uniform(shape, [1, 2], 0, config.vocab_size,
                                       tf.int32)
  labels = tf.random.stateless_uniform(shape[:1], [3, 4], 0, 2, tf.int32)

  @tf.function(autograph=False)
  def step():
    with tf.GradientTape() as tape:
      logits = dis(tokens, training=True, dropout_seed=tf.constant([5, 6]))
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels, logits)) + dis.l2_loss()
    variables = dis.trainable_variables
    adam.apply(tape.gradient(loss, variables), variables)
    return loss

  times = []
  for index in range(steps + 2):
    start = time.perf_counter()
    step().numpy()
    if index >= 2:
      times.append(time.perf_counter() - start)
  return statistics.median(times)


def resolve(config: Config, strategy: tf.distribute.Strategy) -> Config:
  """`config` with `auto` replaced by the measured choice (logged)."""
  if config.dis_compute_dtype != "auto":
    return config
  if config.deterministic:
    logging.info("D computes in float32 (--dis_compute_dtype=auto with "
                 "--deterministic: a choice by timing would tie the results "
                 "to the machine's load).")
    return config_lib.replace(config, dis_compute_dtype="float32")
  seconds = {dtype: time_dis_step(config, dtype)
             for dtype in ("float32", "bfloat16")}
  if distribute.is_multi_worker(strategy):   # every worker chooses the same
    seconds = dict(zip(seconds, distribute.sum_over_workers(
        strategy, list(seconds.values()))))
  chosen = choose(seconds["float32"], seconds["bfloat16"])
  logging.info(
      "D computes in %s (--dis_compute_dtype=auto): one training step took "
      "%.1f ms in float32 and %.1f ms in bfloat16; bfloat16 is used only "
      "where it takes at most %.0f%% of float32's time.", chosen,
      1e3 * seconds["float32"], 1e3 * seconds["bfloat16"],
      100 * (1 - MIN_SPEEDUP))
  return config_lib.replace(config, dis_compute_dtype=chosen)
