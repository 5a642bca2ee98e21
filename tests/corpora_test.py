"""Corpus builders on the shared files, checked against their PROVENANCE."""

import fcntl
import glob
import os
from unittest import mock

import numpy as np
import tensorflow as tf

from conftest import DATA_DIR, shared_file
from seqgan_tf.data import corpora
from seqgan_tf.data.input_pipeline import DataError


class SharedCorporaTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    shared_file("obama", "input.txt")  # skip (or fail under CI) without data

  def load(self, task):
    tfds_dir = self.create_tempdir().full_path
    return corpora.load_texts(task, str(DATA_DIR), tfds_dir)

  def test_obama_keeps_every_word_and_holds_out_paragraphs(self):
    train, test = self.load("obama")
    # PROVENANCE.md: 736,975 whitespace-separated words in input.txt.
    self.assertEqual(sum(len(s.split()) for s in train + test), 736_975)
    self.assertBetween(len(test) / (len(train) + len(test)), 0.08, 0.12)

  def test_poems_are_the_papers_16394_quatrains(self):
    train, test = self.load("poems")
    self.assertLen(train + test, 16_394)
    self.assertTrue(all(len(p.split()) == 24 for p in test))

  def test_coco_has_texygen_splits(self):
    train, test = self.load("coco")
    self.assertLen(train, 10_000)
    self.assertLen(test, 10_000)

  def test_nottingham_windows_of_top_notes(self):
    import scipy.io
    mat = scipy.io.loadmat(shared_file("nottingham", "Nottingham.mat"))
    expected = sum(len(roll) // 32 for key in ("traindata", "validdata")
                   for roll in mat[key][0])
    train, test = self.load("nottingham")
    self.assertLen(train, expected)
    self.assertTrue(all(len(w.split()) == 32 for w in train[:100]))



class UserTextTest(tf.test.TestCase):

  def test_melody_is_highest_key_or_rest(self):
    roll = np.zeros([3, 88], np.uint8)
    roll[0, [10, 30, 39]] = 1      # a chord: top key 39 -> MIDI 60
    roll[2, 0] = 1                 # lowest key, A0 = MIDI 21
    self.assertEqual(corpora.melody_tokens(roll), ["p60", "rest", "p21"])

  def test_preparation_is_locked_against_a_second_process(self):
    """Two runs preparing one corpus at once raced (the second failed to
    finalise its split): the preparation holds an exclusive lock."""
    path = self.create_tempfile(
        content="\n".join(f"line {i}" for i in range(20)) + "\n").full_path
    tfds_dir = self.create_tempdir().full_path
    original = corpora.UserText.download_and_prepare
    seen = []

    def prepare(builder, *args, **kwargs):
      locks = glob.glob(os.path.join(tfds_dir, "**", "*.lock"), recursive=True)
      self.assertLen(locks, 1)
      # A second open file is what another process would try to lock.
      with open(locks[0]) as other:
        with self.assertRaises(BlockingIOError):
          fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
      seen.append(locks[0])
      return original(builder, *args, **kwargs)

    with mock.patch.object(corpora.UserText, "download_and_prepare", prepare):
      train, _ = corpora.load_texts("text", "", tfds_dir, train_file=path)
    self.assertLen(train, 18)
    self.assertLen(seen, 1)
    with open(seen[0]) as other:      # released once prepared
      fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)

  def test_lines_paragraphs_and_held_out_split(self):
    path = self.create_tempfile(
        content="\n".join(f"line {i}" for i in range(20)) + "\n").full_path
    tfds_dir = self.create_tempdir().full_path
    train, test = corpora.load_texts("text", "", tfds_dir, train_file=path)
    self.assertLen(train, 18)
    self.assertCountEqual(test, ["line 9", "line 19"])
    para = self.create_tempfile(content="a b\nc\n\nd e\n").full_path
    self.assertEqual(corpora.records(open(para).read(), "paragraph"),
                     ["a b c", "d e"])

  def test_sentences_hold_out_whole_lines(self):
    # Line i: "i a. i b! i c?" - three sentences; lines 9 and 19 held out.
    path = self.create_tempfile(content="".join(
        f"{i} a. {i} b! {i} c?\n" for i in range(20))).full_path
    train, test = corpora.user_texts(path, "", "sentence")
    self.assertEqual(test, ["9 a.", "9 b!", "9 c?", "19 a.", "19 b!",
                            "19 c?"])
    self.assertLen(train, 54)
    self.assertEqual(train[:3], ["0 a.", "0 b!", "0 c?"])
    self.assertEqual(corpora.sentences("Mr.Smith left. Then 3.5 rose."),
                     ["Mr.Smith left.", "Then 3.5 rose."])

  def test_bad_files_are_clear_errors(self):
    tfds_dir = self.create_tempdir().full_path
    latin1 = self.create_tempfile("latin1.txt")
    with open(latin1.full_path, "wb") as f:
      f.write("caf\xe9\n".encode("latin-1"))
    with self.assertRaisesRegex(DataError, "is not UTF-8 text .*iconv"):
      corpora.load_texts("text", "", tfds_dir, train_file=latin1.full_path)
    empty = self.create_tempfile("empty.txt", content="\n \n").full_path
    with self.assertRaisesRegex(DataError, "holds no text"):
      corpora.load_texts("text", "", tfds_dir, train_file=empty)
    with self.assertRaisesRegex(DataError, "does not exist"):
      corpora.load_texts("text", "", tfds_dir, train_file="/no/such.txt")
    few = self.create_tempfile("few.txt", content="a\nb\n").full_path
    with self.assertRaisesRegex(DataError, "empty test split.*--test_file"):
      corpora.load_texts("text", "", tfds_dir, train_file=few)


if __name__ == "__main__":
  tf.test.main()
