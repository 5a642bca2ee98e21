"""The fused Adam against Keras' own Adam, step for step."""

import numpy as np
import keras
import tensorflow as tf

from seqgan_tf.training.optim import FusedAdam


class FusedAdamTest(tf.test.TestCase):

  def _run(self, optimizer, steps=5):
    """Dense and embedding-style (IndexedSlices) variables, clipped grads."""
    rng = np.random.default_rng(0)
    dense = tf.Variable(rng.normal(size=[4, 3]).astype(np.float32))
    table = tf.Variable(rng.normal(size=[6, 2]).astype(np.float32))
    variables = [dense, table]
    trajectory = []
    for step in range(steps):
      x = tf.constant(rng.normal(size=[5, 4]).astype(np.float32))
      ids = tf.constant([step % 6, (step + 2) % 6])
      with tf.GradientTape() as tape:
        loss = (tf.reduce_sum(tf.matmul(x, dense) ** 2)
                + tf.reduce_sum(tf.gather(table, ids) ** 3))
      optimizer.apply(tape.gradient(loss, variables), variables)
      trajectory.append([v.numpy().copy() for v in variables])
    return trajectory

  def test_matches_keras_adam_with_and_without_clipping(self):
    for clip in (None, 1.0):
      args = dict(learning_rate=0.01, epsilon=1e-8, global_clipnorm=clip)
      ours = self._run(FusedAdam(**args))
      reference = self._run(keras.optimizers.Adam(**args))
      for step, (a, b) in enumerate(zip(ours, reference)):
        for x, y in zip(a, b):
          self.assertAllClose(x, y, rtol=1e-5, atol=1e-6,
                              msg=f"clip={clip} step={step}")
      self.assertNotAllClose(ours[0][0], ours[-1][0])  # it did move

  def test_falls_back_to_keras_update_without_its_internals(self):
    """A Keras release without an internal the fused kernel reads: the
    parent's update, still equal to Keras' Adam."""

    class Missing(FusedAdam):
      FUSED_NEEDS = FusedAdam.FUSED_NEEDS + ("_not_in_any_keras",)

    args = dict(learning_rate=0.01, epsilon=1e-8, global_clipnorm=1.0)
    fallback = Missing(**args)
    ours = self._run(fallback)
    self.assertFalse(fallback.fused)
    fused = FusedAdam(**args)
    self._run(fused, steps=1)
    self.assertTrue(fused.fused)
    reference = self._run(keras.optimizers.Adam(**args))
    for a, b in zip(ours, reference):
      for x, y in zip(a, b):
        self.assertAllClose(x, y, rtol=1e-6, atol=1e-7)

  def test_amsgrad_is_refused(self):
    with self.assertRaisesRegex(ValueError, "amsgrad"):
      FusedAdam(amsgrad=True)


if __name__ == "__main__":
  tf.test.main()
