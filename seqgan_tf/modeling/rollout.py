"""Monte-Carlo rewards: Q(y_<t, y_t) for every position of a batch.

For t < T, Q_t is the mean over N completions of the prefix y_1..t, sampled by
the roll-out policy G_beta, of D(completion); Q_T = D(Y).

The completions are built in one graph that shares work between prefixes:
one teacher-forced pass of G_beta over Y gives the state after every prefix,
and then positions are generated left to right, advancing only the branches
that are live at that position (branch t is live from position t+1). That is
N*B*T(T-1)/2 token draws instead of the N*B*(T-1)^2 of a lock-step rollout,
and no prefix is ever re-run.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from seqgan_tf.modeling import Generator, sampler
from seqgan_tf.training import distribute

ScoreFn = Callable[[tf.Tensor], tf.Tensor]  # [n, T] tokens -> [n] P(real)


def completions(rollout_policy: Generator, sequences: tf.Tensor,
                num_rollouts: int, seed: tf.Tensor,
                rows: tuple[tf.Tensor, int] | None = None) -> tf.Tensor:
  """Completes every proper prefix of every sequence N times.

  Args:
    rollout_policy: G_beta.
    sequences: [batch, T] int32, Y.
    num_rollouts: N.
    seed: [2] int stateless seed.
    rows: (first row, global batch) when `sequences` are one replica's share
      (its completions are then those one device would draw for these rows).

  Returns:
    [T-1, N, batch, T] int32: element [t-1, n, b] is y_b[:t] followed by the
    n-th sampled completion of that prefix.
  """
  batch, length = sequences.shape
  sequences = tf.cast(sequences, tf.int32)
  branch_rows = num_rollouts * batch            # rows per prefix length
  h_all, c_all = rollout_policy.unroll(rollout_policy.shift_right(sequences))

  def tile(x):                                  # [batch, ...] -> [N*batch, ...]
    return tf.tile(x, [num_rollouts] + [1] * (len(x.shape) - 1))

  # Column 0 is y_1 in every branch (every prefix has length >= 1).
  columns = [tf.tile(sequences[:, 0], [(length - 1) * num_rollouts])]
  live_h = live_c = None
  for p in range(1, length):
    # Branch t = p (prefix y_1..y_p) joins: its state predicts position p.
    new_h, new_c = tile(h_all[:, p]), tile(c_all[:, p])
    live_h = new_h if live_h is None else tf.concat([live_h, new_h], 0)
    live_c = new_c if live_c is None else tf.concat([live_c, new_c], 0)
    # Draw for the p live branches, one [N*batch] block at a time so each
    # block's logits stay in cache.
    drawn = tf.map_fn(
        lambda args: sampler.draw_categorical(
            rollout_policy.output_layer(args[0]), tf.reshape(
                distribute.uniform([num_rollouts, batch, 2],
                                   sampler.fold_seed(seed, p, args[1]), 1,
                                   rows), [branch_rows, 2])),
        (tf.reshape(live_h, [p, branch_rows, -1]), tf.range(p)),
        fn_output_signature=tf.TensorSpec([branch_rows], tf.int32),
        parallel_iterations=2)
    drawn = tf.reshape(drawn, [-1])
    # Branches t > p still read their own prefix token at position p.
    kept = tf.tile(sequences[:, p], [(length - 1 - p) * num_rollouts])
    columns.append(tf.concat([drawn, kept], 0))
    if p < length - 1:
      live_h, live_c = rollout_policy.advance(drawn, [live_h, live_c])
  tokens = tf.stack(columns, axis=1)            # [(T-1)*N*batch, T]
  return tf.reshape(tokens, [length - 1, num_rollouts, batch, length])


def rewards(rollout_policy: Generator, score: ScoreFn, sequences: tf.Tensor,
            num_rollouts: int, seed: tf.Tensor,
            rows: tuple[tf.Tensor, int] | None = None) -> tf.Tensor:
  """The Monte-Carlo reward Q of every token.

  Args:
    rollout_policy: G_beta, which completes the prefixes.
    score: D's P(real), [n, T] -> [n], dropout off.
    sequences: [batch, T] int32, the sequences G_theta sampled.
    num_rollouts: N completions per prefix.
    seed: [2] int stateless seed.

  Returns:
    [batch, T] float32; column t-1 is Q(y_<t, y_t).
  """
  done = completions(rollout_policy, sequences, num_rollouts, seed, rows)
  length = sequences.shape[1]
  # Score one prefix length (N*batch sequences) at a time: large enough for
  # fast matmuls, small enough that D's activations stay ~100 MB.
  scores = tf.map_fn(
      lambda block: score(tf.reshape(block, [-1, length])),
      done, fn_output_signature=tf.TensorSpec([None], tf.float32),
      parallel_iterations=1)                    # [T-1, N*batch]
  scores = tf.reshape(scores, tf.shape(done)[:3])  # [T-1, N, batch]
  q_prefix = tf.transpose(tf.reduce_mean(scores, axis=1))  # [batch, T-1]
  q_last = score(sequences)[:, None]                        # [batch, 1]
  return tf.concat([q_prefix, q_last], axis=1)
