"""The run folder: its configuration, atomic writes, damaged files kept."""

import json
import os

import tensorflow as tf

from seqgan_tf import config as config_lib
from seqgan_tf.training import workdir as workdir_lib
from train_test import TINY


class WorkdirTest(tf.test.TestCase):

  def test_other_config_in_workdir_is_refused(self):
    workdir = self.create_tempdir().full_path
    workdir_lib.check(TINY, workdir)
    workdir_lib.check(config_lib.replace(TINY, adv_iterations=7), workdir)
    with self.assertRaisesRegex(config_lib.ConfigError,
                                "vocab_size: workdir has 12, flags give 13"):
      workdir_lib.check(config_lib.replace(TINY, vocab_size=13), workdir)
    with open(f"{workdir}/config.json") as f:
      self.assertEqual(json.load(f)["vocab_size"], 12)  # not overwritten

  def test_fields_newer_than_a_run_compare_as_their_defaults(self):
    workdir = self.create_tempdir().full_path
    workdir_lib.check(TINY, workdir)
    with open(f"{workdir}/config.json") as f:
      saved = json.load(f)
    del saved["text_unit"]                 # as if saved by an older version
    with open(f"{workdir}/config.json", "w") as f:
      json.dump(saved, f)
    workdir_lib.check(TINY, workdir)     # default "line": the same run
    with self.assertRaisesRegex(config_lib.ConfigError, "--text_unit"):
      workdir_lib.check(config_lib.replace(TINY, text_unit="paragraph"),
                        workdir)

  def test_derived_and_explicit_paper_kernels_are_the_same_run(self):
    workdir = self.create_tempdir().full_path
    paper = config_lib.replace(config_lib.Config(), seq_length=20)
    workdir_lib.check(paper, workdir)
    workdir_lib.check(config_lib.replace(
        paper, dis_filter_sizes=config_lib.PAPER_FILTER_SIZES,
        dis_num_filters=config_lib.PAPER_NUM_FILTERS), workdir)

  def test_damaged_config_is_reported_by_name_and_kept(self):
    workdir = self.create_tempdir().full_path
    path = os.path.join(workdir, "config.json")
    with open(path, "w") as f:
      f.write('{"task": "synth')                     # cut short
    for call in (lambda: workdir_lib.check(TINY, workdir),
                 lambda: workdir_lib.saved_config(workdir)):
      with self.assertRaisesRegex(workdir_lib.WorkdirError,
                                  f"{path} is unreadable .*new --workdir"):
        call()
    with open(path) as f:
      self.assertEqual(f.read(), '{"task": "synth')  # untouched

  def test_saved_config_is_the_full_configuration(self):
    workdir = self.create_tempdir().full_path
    self.assertIsNone(workdir_lib.saved_config(workdir))
    config = config_lib.replace(TINY, adv_iterations=7)
    workdir_lib.check(config, workdir)
    saved = workdir_lib.saved_config(workdir)
    self.assertEqual(saved["adv_iterations"], 7)
    self.assertEqual(saved["dis_filter_sizes"], [1, 2])

  def test_write_atomic_replaces_whole_file_and_leaves_no_temporary(self):
    folder = self.create_tempdir().full_path
    path = os.path.join(folder, "f.txt")
    workdir_lib.write_atomic(path, "old")
    workdir_lib.write_atomic(path, "new")
    with open(path) as f:
      self.assertEqual(f.read(), "new")
    self.assertEqual(os.listdir(folder), ["f.txt"])


class CheckpointRecoveryTest(tf.test.TestCase):

  def _three_checkpoints(self):
    folder = self.create_tempdir().full_path
    value = tf.Variable(0.0)
    checkpoint = tf.train.Checkpoint(value=value)
    manager = tf.train.CheckpointManager(checkpoint, folder, max_to_keep=5)
    for v in (1.0, 2.0, 3.0):
      value.assign(v)
      manager.save()
    return folder, value, checkpoint, manager

  def test_truncated_newest_falls_back_to_previous_and_is_kept(self):
    folder, value, checkpoint, manager = self._three_checkpoints()
    data = tf.io.gfile.glob(manager.latest_checkpoint + ".data-*")[0]
    with open(data, "rb") as f:
      content = f.read()
    with open(data, "wb") as f:                  # a crash while writing
      f.write(content[:len(content) // 2])
    value.assign(0.0)
    with self.assertLogs(level="WARNING") as logs:
      restored = workdir_lib.restore_latest(checkpoint, manager)
    self.assertEqual(os.path.basename(restored), "ckpt-2")
    self.assertEqual(float(value), 2.0)
    self.assertIn("ckpt-3 is damaged", "\n".join(logs.output))
    kept = tf.io.gfile.glob(os.path.join(folder, "damaged", "*",
                                         os.path.basename(data)))
    self.assertLen(kept, 1)                      # moved aside, not deleted
    with open(kept[0], "rb") as f:
      self.assertEqual(f.read(), content[:len(content) // 2])
    # The next save does not touch the kept files.
    self.assertEqual(os.path.basename(manager.save()), "ckpt-3")
    self.assertTrue(os.path.exists(kept[0]))

  def test_checkpoint_of_another_model_is_a_configuration_error(self):
    _, _, _, manager = self._three_checkpoints()
    other = tf.train.Checkpoint(value=tf.Variable([0.0, 0.0]))
    with self.assertRaisesRegex(workdir_lib.WorkdirError,
                                "does not fit this configuration"):
      workdir_lib.restore_latest(other, tf.train.CheckpointManager(
          other, manager.directory, max_to_keep=5))


if __name__ == "__main__":
  tf.test.main()
