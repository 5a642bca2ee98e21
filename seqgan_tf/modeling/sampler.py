"""Sampling from a Generator: the categorical draw and whole sequences.

All randomness is stateless: a [2] int seed in, the same tokens out, so a
resumed run draws exactly what an uninterrupted one would have drawn.

Speed: a draw is bound by memory traffic over the [rows, vocab] logits, not
arithmetic. The two-level inverse-CDF draw below uses vectorised float32 ops
and measured faster than `tf.random.categorical`, and keeping each chunk's
logits in cache (`LOGIT_ROWS`) cheapens the output projection again
(bench/README.md).
"""

from __future__ import annotations

import math

import tensorflow as tf

from seqgan_tf.modeling.generator import LOGIT_ROWS, Generator


def fold_seed(seed: tf.Tensor, *data: int | tf.Tensor) -> tf.Tensor:
  """Derives an independent [2] seed from `seed` and integers."""
  for d in data:
    seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(d, tf.int32))
  return seed


def seed_at(base_seed: int, *path: int | tf.Tensor) -> tf.Tensor:
  """The [2] int32 seed of the draw at `path` (phase, counters...) of a run."""
  return fold_seed(tf.constant([base_seed, 0], tf.int32), *path)


def draw_categorical(logits: tf.Tensor, uniforms: tf.Tensor) -> tf.Tensor:
  """One exact draw per row from softmax(logits).

  Inverse CDF in two levels: pick a block of the vocabulary by the blocks'
  total mass, then a token inside it. Exact up to float32 rounding of the
  partial sums, like `tf.random.categorical`; a zero-mass token is never drawn.

  Args:
    logits: [rows, vocab] float32.
    uniforms: [rows, 2] U[0, 1) numbers (stateless: their seed fixes the draw).

  Returns:
    [rows] int32 token ids.
  """
  rows, vocab = tf.shape(logits)[0], logits.shape[-1]
  block = _block_size(vocab)
  num_blocks = vocab // block
  probs = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
  probs = tf.reshape(probs, [rows, num_blocks, block])
  block_cdf = tf.cumsum(tf.reduce_sum(probs, axis=-1), axis=-1)
  u = uniforms
  # The first block whose cumulative mass exceeds u * total.
  chosen = tf.reduce_sum(
      tf.cast(block_cdf <= u[:, :1] * block_cdf[:, -1:], tf.int32), axis=-1)
  chosen = tf.minimum(chosen, num_blocks - 1)
  inner_cdf = tf.cumsum(tf.gather(probs, chosen, batch_dims=1), axis=-1)
  inner = tf.reduce_sum(
      tf.cast(inner_cdf <= u[:, 1:] * inner_cdf[:, -1:], tf.int32), axis=-1)
  return chosen * block + tf.minimum(inner, block - 1)


def _block_size(vocab: int) -> int:
  """The divisor of `vocab` nearest sqrt(vocab) (both levels cost ~sqrt(V))."""
  target = math.isqrt(vocab)
  divisors = [d for d in range(1, vocab + 1) if vocab % d == 0]
  return min(divisors, key=lambda d: abs(d - target))


def draw_next(generator: Generator, h: tf.Tensor, seed: tf.Tensor,
              temperature: float | tf.Tensor = 1.0) -> tf.Tensor:
  """Samples the next token from hidden states. h: [rows, hidden] -> [rows]."""
  return draw_categorical(generator.output_layer(h) / temperature,
                          tf.random.stateless_uniform([tf.shape(h)[0], 2], seed))


def generate(generator: Generator, batch_size, uniforms_at,
             temperature: float | tf.Tensor = 1.0,
             prefix: tf.Tensor | None = None,
             prefix_length: tf.Tensor | None = None) -> tf.Tensor:
  """The generation loop that sampling, completion and serving share.

  Args:
    generator: the policy.
    batch_size: rows (int or scalar tensor).
    uniforms_at: t -> [batch, 2] U[0, 1) numbers for the draw at step t.
    temperature: scalar, or [batch, 1] per row.
    prefix: optional [batch, T] ids forced while t < prefix_length.
    prefix_length: [batch] int32.

  Returns:
    [batch, T] int32 token ids.
  """
  state = generator.initial_state(batch_size)
  tokens = tf.fill([batch_size], tf.cast(generator.start_token, tf.int32))
  out = []
  for t in range(generator.seq_length):  # static T: an unrolled graph
    state = generator.advance(tokens, state)
    logits = generator.output_layer(state[0]) / temperature
    tokens = draw_categorical(logits, uniforms_at(t))
    if prefix is not None:
      tokens = tf.where(t < prefix_length, prefix[:, t], tokens)
    out.append(tokens)
  return tf.stack(out, axis=1)


def sample(generator: Generator, batch_size: int, seed: tf.Tensor,
           temperature: float | tf.Tensor = 1.0) -> tf.Tensor:
  """Samples whole sequences from the start token, one seed for the batch.

  Args:
    generator: the policy to sample from.
    batch_size: rows.
    seed: [2] int stateless seed.
    temperature: logits are divided by it (1.0 samples the model itself).

  Returns:
    [batch_size, seq_length] int32 token ids.
  """
  return generate(generator, batch_size, lambda t: tf.random.stateless_uniform(
      [batch_size, 2], fold_seed(seed, t)), temperature)


def row_uniforms(row_seeds: tf.Tensor, t: int) -> tf.Tensor:
  """[batch] int64 seeds -> [batch, 2] uniforms for step t, one stream a row,
  so a row's tokens do not depend on what else is in its batch."""
  return tf.map_fn(
      lambda s: tf.random.stateless_uniform([2], tf.stack([s, t])),
      tf.cast(row_seeds, tf.int64), fn_output_signature=tf.float32)


def sample_rows(generator: Generator, row_seeds: tf.Tensor,
                temperature: tf.Tensor, prefix: tf.Tensor | None = None,
                prefix_length: tf.Tensor | None = None) -> tf.Tensor:
  """Serving's sampler: per-row seeds and temperatures, optional prefixes.

  Args:
    row_seeds: [batch] int64.
    temperature: [batch] float32.
    prefix, prefix_length: as in `generate`.

  Returns:
    [batch, T] int32.
  """
  return generate(generator, tf.shape(row_seeds)[0],
                  lambda t: row_uniforms(row_seeds, t),
                  tf.cast(temperature, tf.float32)[:, None], prefix,
                  prefix_length)


def sample_many(generator: Generator, num_samples: int, seed: tf.Tensor,
                temperature: float | tf.Tensor = 1.0,
                chunk_rows: int = LOGIT_ROWS) -> tf.Tensor:
  """Samples `num_samples` sequences in cache-sized chunks.

  Returns:
    [num_samples, seq_length] int32. Chunk i uses fold_seed(seed, i), so the
    result depends on `chunk_rows`; callers keep it fixed.
  """
  chunk = min(chunk_rows, num_samples)
  num_chunks = -(-num_samples // chunk)
  chunks = tf.map_fn(
      lambda i: sample(generator, chunk, fold_seed(seed, i), temperature),
      tf.range(num_chunks),
      fn_output_signature=tf.TensorSpec([chunk, generator.seq_length],
                                        tf.int32),
      parallel_iterations=2)
  return tf.reshape(chunks, [-1, generator.seq_length])[:num_samples]
