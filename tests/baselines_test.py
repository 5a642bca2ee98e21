"""Scheduled sampling and PG-BLEU's reward, against references one can check:
the plain MLE log-probabilities, counted coin flips, and bleu.py (itself
tested equal to nltk)."""

import numpy as np
import tensorflow as tf

from seqgan_tf import bleu
from seqgan_tf.modeling import Generator, baselines


def _generator(vocab=7, length=6, seed=3):
  return Generator(vocab, 5, 8, length, start_token=0, init_stddev=0.5,
                   seed=seed)


class ScheduledSamplingTest(tf.test.TestCase):

  def test_truth_rate_falls_before_every_epoch(self):
    self.assertAllClose([baselines.ss_truth_rate(e, 0.002) for e in (0, 1, 299)],
                        [0.998, 0.996, 0.4])
    self.assertEqual(baselines.ss_truth_rate(10, 0.5), 0.0)

  def test_all_truth_is_teacher_forcing(self):
    g = _generator()
    tokens = tf.constant(np.random.default_rng(0).integers(0, 7, (4, 6)),
                         tf.int32)
    log_probs, inputs = baselines.scheduled_sampling_log_probs(
        g, tokens, tf.constant(1.0), tf.constant([1, 2]))
    self.assertAllClose(log_probs, g.log_probs(tokens), atol=1e-5)
    self.assertAllEqual(inputs, g.shift_right(tokens))

  def test_mixed_inputs(self):
    """About w of the inputs are the real tokens; the log-probabilities are
    those of the real tokens given the inputs actually fed."""
    g = _generator()
    rng = np.random.default_rng(1)
    tokens = tf.constant(rng.integers(0, 7, (400, 6)), tf.int32)
    w = 0.7
    log_probs, inputs = baselines.scheduled_sampling_log_probs(
        g, tokens, tf.constant(w), tf.constant([5, 6]))
    inputs, tokens_np = inputs.numpy(), tokens.numpy()
    self.assertTrue((inputs[:, 0] == 0).all())
    # A sampled input equals the real token by chance 1/7 of the time at
    # most-ish; the share of real ones is w + (1 - w) * P(sample = truth).
    truth = (inputs[:, 1:] == tokens_np[:, :-1]).mean()
    self.assertBetween(truth, w - 0.03, 1.0)
    self.assertLess(truth, 0.95)
    # Reference: teacher-forced pass over the inputs that were fed.
    h, _ = g.unroll(tf.constant(inputs))
    logits = g.output_layer(h).numpy()
    logits -= logits.max(-1, keepdims=True)
    ref = (np.take_along_axis(logits, tokens_np[..., None], -1)[..., 0]
           - np.log(np.exp(logits).sum(-1)))
    self.assertAllClose(log_probs, ref, atol=1e-4)

  def test_own_samples_follow_the_model(self):
    """With w = 0 and a G that always predicts one token, every input after
    the first is that token."""
    g = _generator()
    bias = np.full([7], -30.0, np.float32)
    bias[4] = 30.0
    g.output_layer.bias.assign(bias)
    tokens = tf.constant(np.random.default_rng(2).integers(0, 7, (8, 6)),
                         tf.int32)
    _, inputs = baselines.scheduled_sampling_log_probs(
        g, tokens, tf.constant(0.0), tf.constant([0, 1]))
    self.assertTrue((inputs.numpy()[:, 1:] == 4).all())


class BleuRewardTest(tf.test.TestCase):

  def _check(self, refs, rows, n, vocab, **kwargs):
    reward = baselines.BleuReward(refs, n, vocab, rows.shape[1], **kwargs)
    got = reward(tf.constant(rows, tf.int32)).numpy()
    # Compiled by XLA (PG-BLEU's G step under --jit_compile), the same values.
    compiled = tf.function(reward.__call__, jit_compile=True, autograph=False)
    self.assertAllClose(compiled(tf.constant(rows, tf.int32)), got, atol=1e-6)
    scorer = bleu.Bleu(refs, n, unknown=kwargs.get("unknown"))
    end, drop = kwargs.get("end_token"), kwargs.get("drop_tokens", ())
    for row, value in zip(rows, got):
      hyp = []
      for token in row:
        if token == end:
          break
        if token not in drop:
          hyp.append(int(token))
      self.assertAllClose(value, scorer.sentence(hyp, n), atol=1e-5,
                          msg=f"{row} -> {hyp}")

  def test_equals_bleu_py_fixed_length(self):
    rng = np.random.default_rng(0)
    refs = [list(r) for r in rng.integers(0, 6, (40, 8))]
    rows = np.concatenate([rng.integers(0, 6, (60, 8)),
                           np.array(refs[:3])])          # exact matches: 1.0
    self._check(refs, rows, 3, 6)
    self._check(refs, rows, 4, 6)

  def test_equals_bleu_py_with_end_unknown_and_dropped_ids(self):
    """Text rows: stop at </s> (2), skip <pad>/<s> (0, 1), <unk> (3) never
    matches; lengths vary, so the brevity penalty and empty rows count."""
    rng = np.random.default_rng(1)
    refs = []
    for _ in range(30):
      refs.append([int(t) for t in rng.integers(3, 9, rng.integers(2, 9))])
    rows = rng.integers(0, 9, (200, 10))
    rows[:5, 0] = 2                                        # empty hypotheses
    self._check(refs, rows, 3, 9, end_token=2, unknown=3, drop_tokens=(0, 1))

  def test_lookup_finds_every_key_and_only_those(self):
    """The sorted-key search against a dict, at table sizes around powers
    of two (where a halving search goes wrong first) and for absent keys
    below, between and above the stored ones."""
    rng = np.random.default_rng(2)
    for size in (1, 2, 3, 7, 8, 9, 64, 100):
      # Few ids with repeats, so that the clipping counts are 1, 2 or 3.
      refs = [list(r) for r in rng.integers(0, 40, (size, 3)) // 4 * 4]
      reward = baselines.BleuReward(refs, 1, 40, 3)
      queries = np.arange(-1, 42).reshape(1, -1)
      got = reward.max_ref(1, tf.constant(queries, tf.int64)).numpy()[0]
      want = [max(r.count(q) for r in refs) for q in queries[0]]
      self.assertAllEqual(got, want, msg=f"{size} references")

  def test_refuses_keys_that_overflow(self):
    with self.assertRaisesRegex(ValueError, "overflow"):
      baselines.BleuReward([[1, 2]], 5, 10 ** 5, 4)


class BaselineTest(tf.test.TestCase):

  def test_batch_mean_baseline(self):
    reward = tf.constant([[1.0, 2.0, 3.0], [3.0, 4.0, 9.0]])
    self.assertAllClose(baselines.batch_mean_baseline(reward, None),
                        [[-1.0, -1.0, -3.0], [1.0, 1.0, 3.0]])
    mask = tf.constant([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    # Position 2 is live only in row 1: its mean is 9, row 0's term is masked.
    self.assertAllClose(baselines.batch_mean_baseline(reward, mask),
                        [[-1.0, -1.0, 0.0], [1.0, 1.0, 0.0]])


if __name__ == "__main__":
  tf.test.main()
