"""The generator's losses: MLE and the policy gradient (REINFORCE with Q)."""

from __future__ import annotations

import tensorflow as tf


def policy_gradient_loss(log_probs: tf.Tensor, reward: tf.Tensor,
                         mask: tf.Tensor | None = None) -> tf.Tensor:
  """-sum_{b,t} log G(y_t | y_<t) * Q_t: a sum, no baseline (authors' code).

  Args:
    log_probs: [batch, T] log-probabilities of the sampled tokens.
    reward: [batch, T] Q values; treated as constants.
    mask: [batch, T] 1 for tokens up to and including </s> (None: all); no
      term after a sequence's end.
  """
  terms = log_probs * tf.stop_gradient(reward)
  return -tf.reduce_sum(terms if mask is None else terms * mask)


def mle_loss(log_probs: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
  """The mean NLL over real tokens: [batch, T] log-probs and 0/1 mask."""
  if mask is None:
    return -tf.reduce_mean(log_probs)
  return -tf.reduce_sum(log_probs * mask) / tf.reduce_sum(mask)
