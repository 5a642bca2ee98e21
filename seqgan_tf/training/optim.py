"""Adam as one fused kernel per variable.

Keras 3's Adam updates m, v and the variable in separate element-wise passes;
TensorFlow's `ResourceApplyAdam` does the same update (TF1's AdamOptimizer, the
one the authors trained with) in a single pass: for D's 7M parameters about a
third of the time (bench/README.md).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from absl import logging


class FusedAdam(keras.optimizers.Adam):
  """keras.optimizers.Adam whose per-variable update is `ResourceApplyAdam`.

  Same update as the parent: m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;
  var <- var - lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps). Gradient
  clipping, iterations and checkpointed slots are the parent's. No amsgrad.
  Under a tf.distribute strategy, gradients must be all-reduced by the caller.

  The fused kernel reads Adam's slots through Keras internals
  (`FUSED_NEEDS`, as in Keras 3.10-3.15). Where a Keras release lacks one,
  `fused` is False and every update is the parent's own: the same numbers,
  unfused (tests/optim_test.py checks both against keras.optimizers.Adam).
  """

  FUSED_NEEDS = ("_get_variable_index", "_momentums", "_velocities")

  def __init__(self, *args, **kwargs):
    if kwargs.get("amsgrad"):
      raise ValueError("FusedAdam does not implement amsgrad.")
    super().__init__(*args, **kwargs)

  def _all_reduce_sum_gradients(self, grads_and_vars):
    # The steps all-reduce their gradients before `apply`
    # (distribute.Replicas), so that the global-norm clip sees the whole
    # batch's gradient; Keras would clip each replica's part and then sum.
    return list(grads_and_vars)

  def build(self, var_list):
    super().build(var_list)
    self.fused = all(hasattr(self, name) for name in self.FUSED_NEEDS)
    if not self.fused:
      logging.warning("Keras %s's Adam lacks %s: %s uses Keras' own (unfused) "
                      "Adam update, which is slower but the same.",
                      keras.__version__, [n for n in self.FUSED_NEEDS
                                          if not hasattr(self, n)], self.name)

  def update_step(self, gradient, variable, learning_rate):
    if not self.fused:
      return super().update_step(gradient, variable, learning_rate)
    dtype = variable.dtype
    step = tf.cast(self.iterations + 1, dtype)
    index = self._get_variable_index(variable)
    tf.raw_ops.ResourceApplyAdam(
        var=variable.handle,
        m=self._momentums[index].handle,
        v=self._velocities[index].handle,
        beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
        beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
        lr=tf.cast(learning_rate, dtype),
        beta1=tf.cast(self.beta_1, dtype),
        beta2=tf.cast(self.beta_2, dtype),
        epsilon=tf.cast(self.epsilon, dtype),
        # An embedding's IndexedSlices gradient becomes dense, as TF1's Adam
        # also decays every row's moments.
        grad=tf.convert_to_tensor(tf.cast(gradient, dtype)))


def make_adam(learning_rate: float, clipnorm: float | None,
              name: str) -> keras.optimizers.Adam:
  """Adam with TF1's epsilon (1e-8), as the authors trained with, and an
  optional global-norm clip."""
  return FusedAdam(learning_rate, epsilon=1e-8, global_clipnorm=clipnorm,
                   name=name)
