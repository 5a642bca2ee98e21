"""--dis_compute_dtype=auto: bfloat16 only where it measures >= 10% faster."""

from unittest import mock

import tensorflow as tf

from conftest import smoke_config
from seqgan_tf.training import precision
from seqgan_tf.training.state import SeqGAN


class PrecisionTest(tf.test.TestCase):

  def test_bfloat16_only_where_at_least_ten_percent_faster(self):
    self.assertEqual(precision.choose(0.100, 0.091), "float32")
    self.assertEqual(precision.choose(0.100, 0.090), "bfloat16")
    self.assertEqual(precision.choose(0.100, 0.575), "float32")   # emulated
    self.assertEqual(precision.choose(0.058, 0.044), "bfloat16")  # AMX-like

  def test_auto_takes_the_measured_choice_and_builds_it(self):
    strategy = tf.distribute.get_strategy()
    config = smoke_config(dis_compute_dtype="auto")
    for timings, expected in (({"float32": 0.05, "bfloat16": 0.02},
                               "bfloat16"),
                              ({"float32": 0.05, "bfloat16": 0.30},
                               "float32")):
      with mock.patch.object(precision, "time_dis_step",
                             lambda c, dtype, t=timings: t[dtype]):
        resolved = precision.resolve(config, strategy)
      self.assertEqual(resolved.dis_compute_dtype, expected)
      model = SeqGAN(resolved)
      conv = model.discriminator.convs[0]
      self.assertEqual(conv.compute_dtype, expected)
      self.assertEqual(conv.kernel.dtype, "float32")   # checkpoints alike

  def test_explicit_and_deterministic_runs_are_not_timed(self):
    strategy = tf.distribute.get_strategy()
    with mock.patch.object(precision, "time_dis_step",
                           side_effect=AssertionError("timed")):
      for dtype in ("float32", "bfloat16"):
        config = smoke_config(dis_compute_dtype=dtype)
        self.assertIs(precision.resolve(config, strategy), config)
      deterministic = smoke_config(dis_compute_dtype="auto",
                                   deterministic=True)
      self.assertEqual(precision.resolve(deterministic, strategy)
                       .dis_compute_dtype, "float32")

  def test_probe_times_a_real_step_in_each_dtype(self):
    config = smoke_config()
    for dtype in ("float32", "bfloat16"):
      seconds = precision.time_dis_step(config, dtype, steps=2)
      self.assertGreater(seconds, 0.0)


if __name__ == "__main__":
  tf.test.main()
