"""Training pieces: the roll-out policy update, the policy gradient, D's step."""

import dataclasses
import os

import numpy as np
import tensorflow as tf
from absl import flags

from seqgan_tf import cli_flags, config as config_lib
from seqgan_tf.data import input_pipeline
from seqgan_tf.modeling import losses as losses_lib
from seqgan_tf.seeds import SeedPath
from seqgan_tf.training import loop, phases, signals, workdir as workdir_lib
from seqgan_tf.training.state import SeqGAN
from seqgan_tf.modeling import Discriminator, Generator, through_end

TINY = config_lib.replace(
    config_lib.Config(), vocab_size=12, seq_length=5, gen_emb_dim=4,
    gen_hidden_dim=4, dis_emb_dim=4, dis_filter_sizes=(1, 2),
    dis_num_filters=(3, 3), batch_size=4, num_train=8, num_negatives=8,
    rollout_num=2)


class RolloutPolicyTest(tf.test.TestCase):

  def test_update_is_exponential_moving_average(self):
    model = SeqGAN(config_lib.replace(TINY, rollout_update_rate=0.8))
    beta0 = [w.numpy() for w in model.rollout_policy.weights]
    theta = [w.numpy() for w in model.generator.weights]
    model.update_rollout_policy()
    for b0, th, b1 in zip(beta0, theta, model.rollout_policy.weights):
      self.assertAllClose(b1, 0.8 * b0 + 0.2 * th, atol=1e-6)
    self.assertNotAllClose(beta0[0], theta[0])  # the test is not vacuous

  def test_rate_zero_copies_and_rate_one_freezes(self):
    model = SeqGAN(TINY)
    frozen = [w.numpy() for w in model.rollout_policy.weights]
    model.update_rollout_policy(rate=1.0)
    for a, b in zip(frozen, model.rollout_policy.weights):
      self.assertAllEqual(a, b)
    model.update_rollout_policy(rate=0.0)
    for a, b in zip(model.generator.weights, model.rollout_policy.weights):
      self.assertAllEqual(a, b)


class PolicyGradientTest(tf.test.TestCase):

  def test_loss_is_negative_reward_weighted_sum(self):
    log_probs = tf.constant([[-1.0, -2.0], [-0.5, -3.0]])
    reward = tf.constant([[0.5, 1.0], [0.0, 0.25]])
    self.assertNear(float(losses_lib.policy_gradient_loss(log_probs, reward)),
                    0.5 * 1 + 1.0 * 2 + 0.0 + 0.25 * 3, 1e-6)

  def test_step_raises_log_prob_of_rewarded_token(self):
    gen = Generator(8, 4, 4, seq_length=3, seed=0, init_stddev=0.5)
    tokens = tf.constant([[1, 2, 3], [4, 5, 6]])
    reward = tf.constant([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # only y=2 at t=2
    before = gen.log_probs(tokens).numpy()
    with tf.GradientTape() as tape:
      loss = losses_lib.policy_gradient_loss(gen.log_probs(tokens), reward)
    grads = tape.gradient(loss, gen.trainable_variables)
    for var, grad in zip(gen.trainable_variables, grads):
      var.assign_sub(0.1 * tf.convert_to_tensor(grad))
    after = gen.log_probs(tokens).numpy()
    self.assertGreater(after[0, 1], before[0, 1])

  def test_zero_reward_gives_zero_gradient(self):
    gen = Generator(8, 4, 4, seq_length=3, seed=0)
    tokens = tf.constant([[1, 2, 3]])
    with tf.GradientTape() as tape:
      loss = losses_lib.policy_gradient_loss(gen.log_probs(tokens),
                                        tf.zeros([1, 3]))
    for grad in tape.gradient(loss, gen.trainable_variables):
      self.assertAllClose(tf.convert_to_tensor(grad),
                          tf.zeros(grad.shape), atol=0)


class AdversarialStepTest(tf.test.TestCase):

  def test_generator_step_updates_theta_and_moves_beta(self):
    model = SeqGAN(config_lib.replace(TINY, rollout_update_rate=0.5))
    model.update_rollout_policy(rate=0.0)
    theta0 = [w.numpy() for w in model.generator.weights]
    out = model.adversarial_generator_step(tf.constant([1, 2]))
    self.assertAllInRange(out["reward_mean"], 0.0, 1.0)
    theta1 = [w.numpy() for w in model.generator.weights]
    self.assertNotAllClose(theta0[0], theta1[0])
    # beta = 0.5 * theta0 + 0.5 * theta1 after one step from beta = theta0.
    for b, t0, t1 in zip(model.rollout_policy.weights, theta0, theta1):
      self.assertAllClose(b, 0.5 * t0 + 0.5 * t1, atol=1e-6)

  def test_reward_mean_and_spread(self):
    """A score that depends only on a sequence's first token (every roll-out
    keeps it) makes Q_t a row's 0/1 for every t: its std over the batch is
    then sqrt(p (1 - p)) of its mean p."""
    def first_token_even(tokens):
      return tf.cast(tokens[:, 0] % 2 == 0, tf.float32)
    model = SeqGAN(TINY, reward=first_token_even)
    model.update_rollout_policy(rate=0.0)
    out = model.adversarial_generator_step(tf.constant([3, 4]))
    p = float(out["reward_mean"])
    self.assertBetween(p, 0.01, 0.99)            # both kinds of rows drawn
    self.assertAllClose(out["reward_std"], np.sqrt(p * (1 - p)), atol=1e-5)

  def test_policy_gradient_has_its_own_learning_rate(self):
    config = config_lib.replace(TINY, pg_learning_rate=1e-3)
    model = SeqGAN(config)
    self.assertAllClose(float(model.mle_optimizer.learning_rate),
                        TINY.gen_learning_rate)
    before = [v.numpy() for v in model.generator.trainable_variables]
    model.adversarial_generator_step(tf.constant([3, 4]))
    moved = max(np.abs(v.numpy() - b).max() for v, b in
                zip(model.generator.trainable_variables, before))
    # Adam's first step moves a weight by lr * m / (sqrt(v) + eps), at most
    # lr (about lr wherever the gradient is well above eps): here 1e-3, not
    # --gen_learning_rate's 1e-2.
    self.assertBetween(moved, 0.5e-3, 1.001e-3)

  def test_discriminator_learns_to_separate(self):
    config = config_lib.replace(TINY, dis_learning_rate=0.01)
    model = SeqGAN(config)
    real = tf.fill([64, 5], 1)                     # all 1s
    fake = tf.fill([64, 5], 2)                     # all 2s
    for epoch in range(5):
      model.read_trackers("dis_loss", "dis_acc_real", "dis_acc_fake")
      model.dis_epoch(input_pipeline.dis_dataset(real, fake, 16, epoch),
                      tf.constant([0, epoch]))
    metrics = model.read_trackers("dis_loss", "dis_acc_real", "dis_acc_fake")
    self.assertGreater(metrics["dis_acc_real"], 0.9)
    self.assertGreater(metrics["dis_acc_fake"], 0.9)
    self.assertGreater(float(model.discriminator.prob_real(real[:1])[0]), 0.5)
    self.assertLess(float(model.discriminator.prob_real(fake[:1])[0]), 0.5)


class ConfigTest(tf.test.TestCase):

  def test_derived_kernels_are_the_papers_at_20_and_32(self):
    self.assertEqual(config_lib.paper_kernels(20),
                     (config_lib.PAPER_FILTER_SIZES,
                      config_lib.PAPER_NUM_FILTERS))
    # The paper's set for length 32 (its music and Obama experiments).
    self.assertEqual(config_lib.paper_kernels(32), (
        (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 24, 32),
        (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160, 160)))
    self.assertEqual(config_lib.paper_kernels(6),
                     ((1, 2, 3, 4, 5, 6), (100, 200, 200, 200, 200, 100)))

  def test_invalid_values_name_the_flag(self):
    for change, flag in [({"rollout_update_rate": 1.5}, "rollout_update_rate"),
                         ({"dis_filter_sizes": (1, 9)}, "dis_filter_sizes"),
                         ({"dis_num_filters": (3,)}, "dis_filter_sizes"),
                         ({"start_token": 12}, "start_token"),
                         ({"batch_size": 0}, "batch_size"),
                         ({"gen_learning_rate": -1.0}, "gen_learning_rate"),
                         ({"pg_learning_rate": -1.0}, "pg_learning_rate")]:
      with self.assertRaisesRegex(config_lib.ConfigError, f"--{flag}="):
        config_lib.replace(TINY, **change)


if __name__ == "__main__":
  tf.test.main()


class EndOfSequenceTest(tf.test.TestCase):
  """Nothing after </s> (id 2) is data: hand-built sequences."""

  A = [[5, 6, 2, 7, 8], [5, 2, 9, 9, 9]]
  B = [[5, 6, 2, 3, 3], [5, 2, 4, 10, 11]]   # A with other tokens after </s>

  def test_mle_loss_is_mean_over_tokens_through_end(self):
    gen = Generator(12, 4, 4, seq_length=5, seed=0, init_stddev=0.5)
    losses = []
    for tokens in (self.A, self.B):
      tokens = tf.constant(tokens)
      log_probs = gen.log_probs(tokens).numpy()
      # By hand: row 0 counts positions 0-2, row 1 positions 0-1.
      expected = -(log_probs[0, :3].sum() + log_probs[1, :2].sum()) / 5
      loss = float(losses_lib.mle_loss(gen.log_probs(tokens),
                                  through_end(tokens, 2)))
      self.assertNear(loss, expected, 1e-6)
      losses.append(loss)
    self.assertNear(losses[0], losses[1], 1e-6)

  def test_policy_gradient_has_no_term_after_end(self):
    log_probs = tf.constant([[-1.0, -2.0, -3.0], [-0.5, -4.0, -8.0]])
    reward = tf.constant([[0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    tokens = tf.constant([[5, 2, 7], [2, 6, 6]])
    loss = losses_lib.policy_gradient_loss(log_probs, reward,
                                      through_end(tokens, 2))
    self.assertNear(float(loss), 0.5 * 1 + 0.5 * 2 + 1.0 * 0.5, 1e-6)

  def test_discriminator_reads_everything_after_end_as_padding(self):
    kwargs = dict(vocab_size=12, emb_dim=4, filter_sizes=(1, 2, 5),
                  num_filters=(3, 3, 3), seed=0)
    masked = Discriminator(**kwargs, end_token=2)
    a, b = tf.constant(self.A), tf.constant(self.B)
    padded = tf.constant([[5, 6, 2, 0, 0], [5, 2, 0, 0, 0]])
    self.assertAllClose(masked.prob_real(a), masked.prob_real(b))
    self.assertAllClose(masked.prob_real(a), masked.prob_real(padded))
    plain = Discriminator(**kwargs)              # same weights, no end token
    self.assertAllClose(plain.prob_real(padded), masked.prob_real(a))
    self.assertNotAllClose(plain.prob_real(a), plain.prob_real(b))

  def test_synthetic_task_has_no_end(self):
    self.assertAllEqual(through_end(tf.constant(self.A), None),
                        tf.ones([2, 5]))


class BalancedClassesTest(tf.test.TestCase):

  def test_small_corpus_uses_all_real_and_as_many_negatives(self):
    rng = np.random.default_rng(0)
    self.assertIsNone(phases.balanced_real_rows(40, 64, rng))
    rows = phases.balanced_real_rows(100, 64, rng)
    self.assertLen(set(rows.tolist()), 64)
    self.assertTrue(all(0 <= r < 100 for r in rows))

  def test_trainer_samples_as_many_negatives_as_real_sequences(self):
    tmp = self.create_tempdir().full_path
    corpus = os.path.join(tmp, "corpus.txt")
    with open(corpus, "w") as f:
      f.write("".join(f"line {i} of a small corpus .\n" for i in range(50)))
    config = config_lib.replace(
        TINY, task="text", train_file=corpus, vocab_size=64, seq_length=8,
        num_negatives=64, batch_size=8, tfds_dir=os.path.join(tmp, "tfds"))
    workdir = os.path.join(tmp, "run")
    workdir_lib.check(config, workdir)
    trainer = loop.Trainer(config, workdir, signals.StopSignal())
    real, fake = trainer.phases.dis_data((SeedPath.DIS_PRETRAIN, 0))
    self.assertEqual(real.shape[0], 45)           # every 10th line held out
    self.assertEqual(fake.shape[0], real.shape[0])


class TaskDefaultsTest(tf.test.TestCase):

  def test_flag_then_workdir_then_task_default_then_flag_default(self):
    values = flags.FlagValues()
    cli_flags.define_flags(values)
    values(["prog", "--task=obama", "--gen_emb_dim=16"])
    config = cli_flags.config_from_flags(values)
    self.assertEqual(config.seq_length, 32)          # obama's own length
    self.assertEqual(config.gen_emb_dim, 16)         # the flag wins
    self.assertEqual(config.batch_size, 64)          # Config's default
    saved = dataclasses.asdict(config_lib.replace(config, seq_length=24))
    resumed = cli_flags.config_from_flags(values, saved)
    self.assertEqual(resumed.seq_length, 24)         # the workdir's run
    values = flags.FlagValues()
    cli_flags.define_flags(values)
    values(["prog"])
    self.assertEqual(cli_flags.config_from_flags(values, saved).task, "obama")
    self.assertEqual(cli_flags.default_workdir(values), "runs/synthetic")

  def test_every_flagfile_gives_a_valid_config_and_opens_with_its_command(self):
    folder = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "flags")
    names = sorted(n for n in os.listdir(folder) if n.endswith(".flags"))
    self.assertIn("synthetic_fast.flags", names)
    for name in names:
      path = os.path.join(folder, name)
      with open(path) as f:
        first = f.readline()
      self.assertRegex(first, r"^# (seqgan|python -m seqgan_tf\.main) ", name)
      values = flags.FlagValues()
      cli_flags.define_flags(values)
      values(["prog", f"--flagfile={path}"])
      if values["task"].value == "text":      # the user names the file
        values(["prog", f"--flagfile={path}", "--train_file=mine.txt"])
      config = cli_flags.config_from_flags(values)   # validates, or raises
      if name == "synthetic_fast.flags":
        # The time-to-quality preset: 10 G steps of 8 roll-outs per D epoch.
        self.assertEqual((config.adv_iterations, config.adv_g_steps,
                          config.rollout_num, config.pretrain_gen_epochs),
                         (4, 10, 8, 30))
