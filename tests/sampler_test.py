"""The categorical draw against known distributions."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from seqgan_tf.modeling import Generator, sampler


class DrawTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(12, 13, 64)  # composite, prime (block 1), square
  def test_frequencies_match_probabilities(self, vocab):
    rng = np.random.default_rng(vocab)
    probs = rng.dirichlet(np.ones(vocab))
    probs[3] = 0.0                    # a zero-mass token is never drawn
    probs /= probs.sum()
    n = 200_000
    logits = tf.tile(tf.math.log(tf.constant(probs, tf.float32))[None], [n, 1])
    draws = sampler.draw_categorical(
        logits, tf.random.stateless_uniform([n, 2], [1, 2])).numpy()
    freq = np.bincount(draws, minlength=vocab) / n
    self.assertEqual(freq[3], 0.0)
    # 5 standard errors of a binomial frequency.
    tolerance = 5 * np.sqrt(probs * (1 - probs) / n) + 1e-9
    self.assertTrue(np.all(np.abs(freq - probs) <= tolerance),
                    msg=f"max |freq - p| = {np.abs(freq - probs).max()}")

  def test_rows_use_their_own_distribution(self):
    logits = tf.constant([[0.0, -1e9, -1e9], [-1e9, -1e9, 0.0]] * 50)
    draws = sampler.draw_categorical(
        logits, tf.random.stateless_uniform([100, 2], [0, 1])).numpy()
    self.assertAllEqual(draws, [0, 2] * 50)

  def test_block_size_is_divisor_near_square_root(self):
    self.assertEqual(sampler._block_size(5000), 50)  # 5000 = 2^3 5^4
    self.assertEqual(sampler._block_size(13), 1)
    self.assertEqual(sampler._block_size(64), 8)


class SampleTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.gen = Generator(16, 4, 4, seq_length=6, start_token=0, seed=0,
                         init_stddev=1.0)

  def test_same_seed_same_tokens(self):
    a = sampler.sample(self.gen, 8, tf.constant([3, 4]))
    self.assertAllEqual(a, sampler.sample(self.gen, 8, tf.constant([3, 4])))
    self.assertNotAllEqual(a, sampler.sample(self.gen, 8, tf.constant([3, 5])))
    self.assertEqual(a.shape, (8, 6))
    self.assertEqual(a.dtype, tf.int32)

  def test_sample_many_is_chunked_and_exact_in_count(self):
    out = sampler.sample_many(self.gen, 10, tf.constant([1, 1]), chunk_rows=4)
    self.assertEqual(out.shape, (10, 6))
    self.assertAllInRange(out, 0, 15)

  def test_low_temperature_is_greedy(self):
    greedy = []
    tokens, state = tf.zeros([1], tf.int32), self.gen.initial_state(1)
    for _ in range(6):
      logits, state = self.gen.step(tokens, state)
      tokens = tf.argmax(logits, -1, output_type=tf.int32)
      greedy.append(int(tokens[0]))
    cold = sampler.sample(self.gen, 1, tf.constant([0, 0]), temperature=1e-4)
    self.assertAllEqual(cold[0], greedy)


if __name__ == "__main__":
  tf.test.main()
