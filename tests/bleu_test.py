"""BLEU and Self-BLEU equal nltk's sentence_bleu on small random cases."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan_tf import bleu


def random_corpus(rng, count, vocab=6, lengths=(0, 9)):
  return [list(rng.integers(0, vocab, rng.integers(*lengths)))
          for _ in range(count)]


def nltk_bleu(references, hyp, n):
  return sentence_bleu(references, hyp, weights=(1.0 / n,) * n,
                       smoothing_function=SmoothingFunction().method1)


class BleuTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(2, 3, 4, 5)
  def test_equals_nltk_against_whole_reference_set(self, n):
    rng = np.random.default_rng(n)
    for trial in range(20):
      references = random_corpus(rng, int(rng.integers(1, 12)),
                                 lengths=(1, 9))
      scorer = bleu.Bleu(references, max_n=5)
      for hyp in random_corpus(rng, 10):
        self.assertAllClose(scorer.sentence(hyp, n),
                            nltk_bleu(references, hyp, n), atol=1e-12,
                            msg=f"trial {trial} refs {references} hyp {hyp}")

  def test_identical_sentence_scores_one_and_disjoint_scores_zero(self):
    scorer = bleu.Bleu([[1, 2, 3, 4, 5]])
    self.assertAllClose(scorer.sentence([1, 2, 3, 4, 5], 4), 1.0)
    self.assertEqual(scorer.sentence([7, 8, 9], 4), 0.0)
    self.assertEqual(scorer.sentence([], 2), 0.0)

  def test_mean_averages_sentences(self):
    scorer = bleu.Bleu([[1, 2, 3], [3, 4, 5, 6]])
    hyps = [[1, 2, 3], [4, 5, 9]]
    self.assertAllClose(scorer.mean(hyps, 2),
                        (scorer.sentence(hyps[0], 2)
                         + scorer.sentence(hyps[1], 2)) / 2)


def renamed(tokens, unknown, new):
  """`tokens` with every `unknown` replaced by `new` (None: unchanged)."""
  return [new if unknown is not None and t == unknown else t for t in tokens]


def nltk_self_bleu(samples, n, unknown=None):
  """Each sample against the others by nltk, <unk> renamed apart."""
  return np.mean([
      nltk_bleu([renamed(s, unknown, -1) for s in samples[:i] + samples[i + 1:]],
                renamed(samples[i], unknown, -2), n)
      for i in range(len(samples))])


class UnknownTest(tf.test.TestCase, parameterized.TestCase):
  """<unk> (id 0 here) never matches: nltk with every <unk> renamed apart."""

  @parameterized.parameters(2, 4)
  def test_equals_nltk_with_unknowns_renamed(self, n):
    rng = np.random.default_rng(20 + n)
    for _ in range(20):
      references = random_corpus(rng, int(rng.integers(1, 8)), vocab=4,
                                 lengths=(1, 8))
      scorer = bleu.Bleu(references, max_n=5, unknown=0)
      refs_apart = [renamed(r, 0, -1) for r in references]
      for hyp in random_corpus(rng, 8, vocab=4):
        self.assertAllClose(scorer.sentence(hyp, n),
                            nltk_bleu(refs_apart, renamed(hyp, 0, -2), n),
                            atol=1e-12, msg=f"refs {references} hyp {hyp}")

  def test_unknown_ngrams_do_not_match(self):
    hyp = [5, 0, 0, 6]
    self.assertAllClose(bleu.Bleu([hyp]).sentence(hyp, 2), 1.0)
    self.assertLess(bleu.Bleu([hyp], unknown=0).sentence(hyp, 2), 0.6)


class SelfBleuTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((2, None), (3, None), (4, None), (2, 0), (3, 0))
  def test_equals_nltk_leave_one_out(self, n, unknown):
    rng = np.random.default_rng(10 + n + (unknown is not None))
    for _ in range(15):
      # Few distinct tokens and lengths: ties in counts and lengths happen.
      samples = random_corpus(rng, int(rng.integers(2, 9)), vocab=4,
                              lengths=(1, 6))
      self.assertAllClose(bleu.self_bleu(samples, n, unknown=unknown),
                          nltk_self_bleu(samples, n, unknown=unknown),
                          atol=1e-12, msg=str(samples))

  def test_identical_samples_have_self_bleu_one(self):
    self.assertAllClose(bleu.self_bleu([[1, 2, 3, 4]] * 3, 4), 1.0)


if __name__ == "__main__":
  tf.test.main()
