"""Vocabulary: reserved ids, cap, unknowns, cutting, round trips."""

import numpy as np
import tensorflow as tf

from seqgan_tf.data import tokenizer
from seqgan_tf.data.tokenizer import END_ID, PAD_ID, UNK_ID, Vocabulary


class TokenizerTest(tf.test.TestCase):

  def test_word_split_keeps_punctuation_and_contractions(self):
    self.assertEqual(tokenizer.split("We can't wait. 1,000 Cafés!", "word"),
                     ["we", "can't", "wait", ".", "1", ",", "000", "cafés",
                      "!"])
    self.assertEqual(tokenizer.split("床 前，明", "char"), ["床", "前", "，", "明"])

  def test_cap_keeps_most_frequent_and_counts_unknowns(self):
    vocab = Vocabulary.build(["a a a b b c", "a b d"], "word", max_size=6)
    self.assertEqual(vocab.tokens[:4], list(tokenizer.RESERVED))
    self.assertEqual(vocab.tokens[4:], ["a", "b"])       # c, d -> <unk>
    stats = tokenizer.EncodeStats()
    ids = vocab.encode(["a c b", "d d d d d d d"], length=5, stats=stats)
    self.assertAllEqual(ids[0], [4, UNK_ID, 5, END_ID, PAD_ID])
    self.assertAllEqual(ids[1], [UNK_ID] * 4 + [END_ID])  # cut to 4 + </s>
    self.assertEqual((stats.sequences, stats.tokens, stats.unknown, stats.cut),
                     (2, 10, 8, 1))
    self.assertNear(stats.unknown_rate, 0.8, 1e-9)

  def test_decode_stops_at_end_and_round_trips(self):
    vocab = Vocabulary.build(["the cat sat on the mat ."], "word", 50)
    ids = vocab.encode(["the cat sat ."], length=8)[0]
    self.assertEqual(vocab.decode(ids), "the cat sat .")
    self.assertEqual(vocab.decode(list(ids[:3]) + [END_ID, 4, 4]),
                     "the cat sat")
    chars = Vocabulary.build(["床前明月光"], "char", 50)
    self.assertEqual(chars.decode(chars.encode(["明月光"], 6)[0]), "明月光")

  def test_save_load_and_equality(self):
    vocab = Vocabulary.build(["x y z y"], "word", 50)
    path = self.create_tempdir().full_path + "/vocab.txt"
    vocab.save(path)
    self.assertEqual(Vocabulary.load(path), vocab)
    self.assertNotEqual(Vocabulary.build(["x y"], "word", 50), vocab)
    bad = self.create_tempfile(content="a\nb\n").full_path
    with self.assertRaisesRegex(tokenizer.VocabularyError, "not a vocabulary"):
      Vocabulary.load(bad)

  def test_strip_removes_padding_and_start(self):
    vocab = Vocabulary.build(["a b"], "word", 50)
    self.assertEqual(vocab.strip(np.array([1, 4, 0, 5, 2, 4])), [4, 5])


if __name__ == "__main__":
  tf.test.main()
