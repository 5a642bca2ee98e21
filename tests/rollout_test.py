"""Monte-Carlo rewards against values computed by hand."""

import numpy as np
import tensorflow as tf

from seqgan_tf.modeling import Generator, rollout

VOCAB, LENGTH, MARK = 10, 6, 7


def always_emits(token: int) -> Generator:
  """A roll-out policy that completes every prefix with `token` only."""
  gen = Generator(VOCAB, 4, 4, LENGTH, start_token=0, seed=0)
  kernel, bias = gen.output_layer.weights
  kernel.assign(tf.zeros_like(kernel))
  bias.assign(tf.one_hot(token, VOCAB) * 100.0 - 50.0)  # p(token) = 1 - 1e-43
  return gen


def count_marks(tokens):
  """Stub D: the share of positions holding MARK. [n, T] -> [n]."""
  return tf.reduce_mean(tf.cast(tokens == MARK, tf.float32), axis=1)


class RolloutTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    seq = rng.integers(0, 5, [3, LENGTH])        # no MARKs...
    seq[1, 0] = MARK                             # ...except row 1, position 1
    seq[2, [2, 4]] = MARK                        # and row 2, positions 3 and 5
    self.sequences = tf.constant(seq, tf.int32)

  def test_reward_equals_hand_computed_value(self):
    # Completions are all MARK, so for a prefix of length t < T:
    #   Q_t = (#MARK in y_1..t + (T - t)) / T,  and Q_T = #MARK in Y / T.
    seq = self.sequences.numpy()
    expected = np.zeros([3, LENGTH])
    for b in range(3):
      for t in range(1, LENGTH):
        expected[b, t - 1] = (np.sum(seq[b, :t] == MARK) + LENGTH - t) / LENGTH
      expected[b, LENGTH - 1] = np.sum(seq[b] == MARK) / LENGTH
    got = rollout.rewards(always_emits(MARK), count_marks, self.sequences,
                          num_rollouts=4, seed=tf.constant([1, 2]))
    self.assertAllClose(got, expected, atol=1e-6)

  def test_every_completion_keeps_its_prefix(self):
    policy = Generator(VOCAB, 4, 4, LENGTH, seed=1, init_stddev=1.0)
    done = rollout.completions(policy, self.sequences, num_rollouts=5,
                               seed=tf.constant([3, 4])).numpy()
    self.assertEqual(done.shape, (LENGTH - 1, 5, 3, LENGTH))
    seq = self.sequences.numpy()
    for t in range(1, LENGTH):
      for n in range(5):
        self.assertAllEqual(done[t - 1, n, :, :t], seq[:, :t])
    # And the completions are sampled: the N of one prefix differ somewhere.
    self.assertGreater(len({done[0, n].tobytes() for n in range(5)}), 1)

  def test_reward_is_mean_over_rollouts_of_scores(self):
    policy = Generator(VOCAB, 4, 4, LENGTH, seed=2, init_stddev=1.0)
    seed = tf.constant([5, 6])
    done = rollout.completions(policy, self.sequences, 8, seed).numpy()
    got = rollout.rewards(policy, count_marks, self.sequences, 8, seed).numpy()
    by_hand = (done == MARK).mean(axis=-1).mean(axis=1).T  # [batch, T-1]
    self.assertAllClose(got[:, :-1], by_hand, atol=1e-6)

  def test_last_reward_is_score_of_whole_sequence(self):
    policy = Generator(VOCAB, 4, 4, LENGTH, seed=3)
    got = rollout.rewards(policy, count_marks, self.sequences, 2,
                          tf.constant([0, 0]))
    self.assertAllClose(got[:, -1], count_marks(self.sequences))


if __name__ == "__main__":
  tf.test.main()
