"""Fitting a schedule to a time budget, against hand-computed step counts."""

import dataclasses

import tensorflow as tf

from seqgan_tf.training import progress


def schedule(mle_epochs=20, adv_iterations=15, evaluations=0):
  # An MLE epoch: 10 batches. A D step: 4 s of sampling + 1 epoch x 6 batches.
  return progress.Schedule(
      mle_epochs=mle_epochs, mle_batches=10, dis_pretrain_steps=3,
      dis_epochs=1, dis_batches=6, adv_iterations=adv_iterations,
      adv_g_steps=1, adv_d_steps=1, evaluations=evaluations,
      final_evaluation_scale=2.0)


# MLE batch 3 s (epoch 30 s); D step 4 + 6 = 10 s; iteration 50 + 10 = 60 s;
# fixed: 3 D pre-training steps (30 s) + final evaluation 2 x 15 s = 60 s.
TIMES = progress.StepTimes(mle_batch=3.0, dis_batch=1.0, negatives=4.0,
                           generator_step=50.0, evaluation=15.0)


class FitToBudgetTest(tf.test.TestCase):

  def test_a_schedule_that_fits_is_kept(self):
    # 20 x 30 + 15 x 60 + 60 = 1560 s = 26 min.
    mle, adv, why = progress.fit_to_budget(schedule(), TIMES, 26.0)
    self.assertEqual((mle, adv), (20, 15))
    self.assertIn("fits", why)

  def test_a_phase_within_its_half_keeps_it_the_other_takes_the_rest(self):
    # 20 min: 1200 - 60 = 1140 s left; MLE needs 600 > 570, the adversarial
    # 900 > 570: 570 s each -> 19 epochs, 9 iterations.
    self.assertEqual(progress.fit_to_budget(schedule(), TIMES, 20.0)[:2],
                     (19, 9))
    # 5 MLE epochs + 15 iterations: 150 + 900 <= 1140 s, nothing to cut.
    self.assertEqual(progress.fit_to_budget(schedule(mle_epochs=5), TIMES,
                                            20.0)[:2], (5, 15))
    # 15 min: 840 s left; 5 epochs (150 s) kept, (840 - 150) // 60 = 11.
    self.assertEqual(progress.fit_to_budget(schedule(mle_epochs=5), TIMES,
                                            15.0)[:2], (5, 11))
    # 12 min: 660 s left; 3 iterations (180 s) kept, (660 - 180) // 30 = 16.
    self.assertEqual(progress.fit_to_budget(schedule(adv_iterations=3), TIMES,
                                            12.0)[:2], (16, 3))

  def test_a_phase_within_its_half_keeps_every_unit_despite_rounding(self):
    # An MLE epoch of 10 x 0.30000000000000004 s: 5 epochs // 1 epoch is 4.0
    # in floats. 5 epochs (15 s) are far below half; the iterations are cut.
    times = progress.StepTimes(mle_batch=0.1 * 3, dis_batch=1.0,
                               negatives=4.0, generator_step=50.0,
                               evaluation=15.0)
    self.assertEqual(progress.fit_to_budget(schedule(mle_epochs=5), times,
                                            10.0)[:2], (5, 8))

  def test_periodic_evaluations_are_charged_to_the_units(self):
    # 7 evaluations over 35 units: 3 s a unit (epoch 33 s, iteration 63 s).
    # 15 min: 840 s left, 420 s each: 12 epochs, 6 iterations.
    self.assertEqual(progress.fit_to_budget(schedule(evaluations=7), TIMES,
                                            15.0)[:2], (12, 6))

  def test_at_least_one_unit_of_each_phase_that_has_any(self):
    self.assertEqual(progress.fit_to_budget(schedule(), TIMES, 0.5)[:2],
                     (1, 1))     # 30 s: less than the fixed 60 s
    self.assertEqual(progress.fit_to_budget(schedule(mle_epochs=0), TIMES,
                                            0.5)[:2], (0, 1))


class LogEstimateTest(tf.test.TestCase):

  def test_early_stopping_makes_the_estimate_an_upper_bound(self):
    bounded = progress.estimate_line(
        dataclasses.replace(schedule(), mle_at_most=True), TIMES)
    plain = progress.estimate_line(schedule(), TIMES)
    # 600 s of MLE + 30 s D pre-training + 900 s adversarial + 2 x 15 s.
    self.assertIn("this machine: at most 26.0 min (MLE of at most 20 epochs "
                  "(early stopping) 10.0 min, D pre-training 30 s", bounded)
    self.assertIn("this machine: 26.0 min (MLE 10.0 min,", plain)


if __name__ == "__main__":
  tf.test.main()
