"""Token files: round trip, and a clear error for each kind of bad input."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from conftest import shared_file
from seqgan_tf.data import input_pipeline
from seqgan_tf.data.input_pipeline import DataError


class TokenFileTest(tf.test.TestCase, parameterized.TestCase):

  def test_round_trip(self):
    tokens = np.random.default_rng(0).integers(0, 50, [7, 5]).astype(np.int32)
    path = self.create_tempdir().full_path + "/ids.txt"
    input_pipeline.write_token_file(path, tokens)
    self.assertAllEqual(input_pipeline.read_token_file(path, 50, 5), tokens)

  @parameterized.named_parameters(
      ("ragged", "1 2 3\n4 5\n", "2 ids, expected --seq_length=3"),
      ("id_too_large", "1 2 3\n4 5 50\n", "token id 50 is outside"),
      ("negative_id", "1 -2 3\n", "token id -2 is outside"),
      ("not_integers", "1 2 x\n", "not a list of integer"),
      ("empty", "\n\n", "holds no sequences"),
  )
  def test_bad_file_is_a_clear_error(self, content, message):
    path = self.create_tempfile(content=content).full_path
    with self.assertRaisesRegex(DataError, message):
      input_pipeline.read_token_file(path, 50, 3)

  def test_missing_file(self):
    with self.assertRaisesRegex(DataError, "does not exist"):
      input_pipeline.read_token_file("/nonexistent/ids.txt", 50, 3)

  def test_paper_training_set_reads(self):
    real = input_pipeline.read_token_file(
        shared_file("synthetic", "real_data.txt"), 5000, 20)
    self.assertEqual(real.shape, (9984, 20))


class LocateTest(tf.test.TestCase):

  def test_local_copy_is_checksummed(self):
    data_dir = self.create_tempdir()
    remote = input_pipeline.RemoteFile(
        "x/file.bin", "https://example.invalid/file.bin",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    data_dir.create_file("x/file.bin", content="hello")   # sha256 of "hello"
    self.assertEqual(input_pipeline.locate(remote, data_dir.full_path),
                     data_dir.full_path + "/x/file.bin")
    data_dir.create_file("x/file.bin", content="tampered")
    with self.assertRaisesRegex(DataError, "not the published file"):
      input_pipeline.locate(remote, data_dir.full_path)

  def test_unreachable_and_absent_names_the_fix(self):
    remote = input_pipeline.RemoteFile("y/none.bin", "http://127.0.0.1:9/none",
                                       "0" * 64)
    with self.assertRaisesRegex(DataError, "pass --data_dir"):
      input_pipeline.locate(remote, self.create_tempdir().full_path)

  def test_paper_oracle_in_shared_data_matches_checksum(self):
    path = shared_file("synthetic", "target_params_py3.pkl")
    data_dir = path[:-len("/synthetic/target_params_py3.pkl")]
    self.assertEqual(input_pipeline.locate(input_pipeline.PAPER_ORACLE,
                                           data_dir), path)


class DatasetTest(tf.test.TestCase):

  def test_dis_dataset_labels_and_shuffle_seed(self):
    real = tf.fill([8, 3], 1)
    fake = tf.fill([8, 3], 2)
    batches = list(input_pipeline.dis_dataset(real, fake, 4, seed=1))
    self.assertLen(batches, 4)
    for tokens, labels in batches:
      self.assertAllEqual(tf.cast(tokens[:, 0] == 1, tf.int32), labels)
    again = list(input_pipeline.dis_dataset(real, fake, 4, seed=1))
    self.assertAllEqual(batches[0][1], again[0][1])

  def test_epochs_keep_tf_data_shuffle_order_without_autotune(self):
    """Autotuning is off (its thread stalled each epoch's end by seconds) and
    the order is tf.data's seeded shuffle, as before: runs stay comparable."""
    real = tf.reshape(tf.range(20), [10, 2])
    order = tf.concat(list(tf.data.Dataset.range(10).shuffle(
        10, seed=3, reshuffle_each_iteration=False).batch(5)), 0)
    dataset = input_pipeline.mle_dataset(real, 5, seed=3)
    self.assertIs(dataset.options().autotune.enabled, False)
    self.assertAllEqual(tf.concat(list(dataset), 0),
                        tf.gather(real, order))
    dis = input_pipeline.dis_dataset(real, real + 100, 4, seed=3)
    self.assertIs(dis.options().autotune.enabled, False)


if __name__ == "__main__":
  tf.test.main()
