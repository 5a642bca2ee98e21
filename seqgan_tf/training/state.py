"""The training state: players, optimisers, progress, and the compiled steps.

`SeqGAN` alone knows what a checkpoint holds (`checkpoint()`); the loop in
train.py drives its steps, which steps.py defines. Every step is one
`tf.function` without AutoGraph: loops over tensors are static Python ranges,
and epochs are driven from Python, one compiled step per batch (~0.3 ms a
call). AutoGraph's conversion of nested bound-method tf.functions failed at
random in long runs here ("missing 1 required positional argument") and is
not needed.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from seqgan_tf.modeling import Discriminator, Generator, rollout
from seqgan_tf.config import Config, ConfigError
from seqgan_tf.training.optim import FusedAdam
from seqgan_tf.training.steps import Steps

Metrics = dict[str, float]

# What the trackers average over a unit (an epoch, a D step, an iteration).
TRACKERS = ("mle_loss", "dis_loss", "dis_acc_real", "dis_acc_fake", "pg_loss",
            "reward_mean", "reward_final", "grad_norm")
DIS_METRICS = ("dis_loss", "dis_acc_real", "dis_acc_fake")
PG_METRICS = ("pg_loss", "reward_mean", "reward_final", "grad_norm")
POSITION_SIZE = 5          # [phase, then up to 4 nested loop counters]


def make_optimizer(learning_rate: float, clipnorm: float | None,
                   name: str) -> keras.optimizers.Adam:
  # TF1's Adam epsilon (1e-8), as the authors trained with.
  return FusedAdam(learning_rate, epsilon=1e-8, global_clipnorm=clipnorm,
                   name=name)


class SeqGAN(Steps, tf.Module):
  """The players, their optimisers, progress counters and step functions.

  Args:
    config: a validated Config.
    vocab_size: the task's vocabulary (default: --vocab_size).
    start_token: the id G reads first (default: --start_token).
    end_token: the id that ends a sequence (None: sequences run to T). Nothing
      after it counts in the MLE loss, the policy gradient, or D's input.
    reward: scores [n, T] completions in [0, 1] for the policy gradient
      (None: D's P(real), SeqGAN; PG-BLEU passes a methods.BleuReward).
  """

  def __init__(self, config: Config, vocab_size: int | None = None,
               start_token: int | None = None, end_token: int | None = None,
               reward: rollout.ScoreFn | None = None,
               strategy: tf.distribute.Strategy | None = None):
    super().__init__(name="seqgan")
    self.config = config
    self.end_token = end_token
    self.strategy = strategy or tf.distribute.get_strategy()
    self.replicas = self.strategy.num_replicas_in_sync
    if config.batch_size % self.replicas:
      raise ConfigError(f"--batch_size={config.batch_size} does not split "
                        f"evenly over {self.replicas} replicas; use a "
                        "multiple of their number.")
    with self.strategy.scope():
      self._build(config, vocab_size, start_token, end_token, reward)
    # Progress: units completed in each phase, and where inside the current
    # unit a stopped run was (its phase, then its loop counters; zeros when
    # it stopped between units). Host variables, outside the strategy: the
    # loop reads them in Python.
    self.mle_epochs_done = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.dis_pretrain_steps_done = tf.Variable(0, dtype=tf.int64,
                                               trainable=False)
    self.adv_iterations_done = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.position = tf.Variable(tf.zeros([POSITION_SIZE], tf.int64),
                                trainable=False)

    # XLA where asked (--jit_compile), or by default where a GPU is visible:
    # the MLE and D steps, and the G step with its roll-out. Sampling the
    # negatives stays in graph mode: random draws under XLA measured 3-7x
    # slower on CPU (TF_FACTS.md), and it has no gradient to fuse. Over
    # several replicas a compiled step that updates variables fails (a
    # resource of one device read on another, TF_FACTS.md): no XLA there.
    self.jit = (config.use_xla(bool(tf.config.list_physical_devices("GPU")))
                and self.replicas == 1)
    self.mle_step = self._compile(self._mle_step)
    self.scheduled_sampling_step = self._compile(self._scheduled_sampling_step)
    self.dis_step = self._compile(self._dis_step)
    self.adversarial_generator_step = self._compile(
        self._adversarial_generator_step)

  def _compile(self, step):
    return tf.function(step, jit_compile=self.jit, autograph=False)

  def _build(self, config, vocab_size, start_token, end_token, reward):
    """The players, optimisers, counters and trackers (under the strategy)."""
    vocab_size = vocab_size or config.vocab_size
    start_token = config.start_token if start_token is None else start_token
    gen_args = (vocab_size, config.gen_emb_dim, config.gen_hidden_dim,
                config.seq_length, start_token, config.gen_init_stddev)
    self.generator = Generator(*gen_args, seed=config.seed, name="generator")
    self.rollout_policy = Generator(*gen_args, name="rollout_policy")
    self.discriminator = Discriminator(
        vocab_size, config.dis_emb_dim, *config.dis_kernels(),
        config.dis_dropout_keep, config.dis_l2, seed=config.seed + 1000,
        end_token=end_token, compute_dtype=config.dis_compute_dtype)
    self.reward = reward or self.discriminator.prob_real
    # Separate Adam states for MLE and the policy gradient (authors' code).
    self.mle_optimizer = make_optimizer(config.gen_learning_rate,
                                        config.gen_grad_clip, "mle_adam")
    self.pg_optimizer = make_optimizer(config.gen_learning_rate,
                                       config.gen_grad_clip, "pg_adam")
    self.dis_optimizer = make_optimizer(config.dis_learning_rate, None,
                                        "dis_adam")
    self.mle_optimizer.build(self.generator.trainable_variables)
    self.pg_optimizer.build(self.generator.trainable_variables)
    self.dis_optimizer.build(self.discriminator.trainable_variables)
    self.trackers = {name: keras.metrics.Mean(name) for name in TRACKERS}

  def checkpoint(self) -> tf.train.Checkpoint:
    """Everything a run needs to continue exactly where it stopped."""
    return tf.train.Checkpoint(
        generator=self.generator, rollout_policy=self.rollout_policy,
        discriminator=self.discriminator, mle_optimizer=self.mle_optimizer,
        pg_optimizer=self.pg_optimizer, dis_optimizer=self.dis_optimizer,
        mle_epochs_done=self.mle_epochs_done,
        dis_pretrain_steps_done=self.dis_pretrain_steps_done,
        adv_iterations_done=self.adv_iterations_done, position=self.position,
        trackers={k: list(m.variables) for k, m in self.trackers.items()})

  def _mutable_variables(self) -> list:
    """Every variable a step changes (not the progress counters)."""
    out = (self.generator.weights + self.rollout_policy.weights
           + self.discriminator.weights)
    for optimizer in (self.mle_optimizer, self.pg_optimizer,
                      self.dis_optimizer):
      out += list(optimizer.variables)
    for tracker in self.trackers.values():
      out += list(tracker.variables)
    return out

  def snapshot(self) -> list[np.ndarray]:
    """The values `restore_snapshot` puts back (steps timed, then undone)."""
    return [np.array(v.numpy()) for v in self._mutable_variables()]

  def restore_snapshot(self, values: list[np.ndarray]) -> None:
    for variable, value in zip(self._mutable_variables(), values):
      variable.assign(value)

  # ------------------------------------------------------- across replicas
  # Each step runs its replica function on every replica's share of the
  # global batch (strategy.run), all-reduces the gradients before the update,
  # and sums the returned metrics over replicas; on one device all of this
  # is the plain step.
  def _run(self, replica_fn, *args) -> dict[str, tf.Tensor]:
    per_replica = self.strategy.run(replica_fn, args=args)
    return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in per_replica.items()}

  def _sum_over_replicas(self, value):
    """`value` (a tensor or list) summed over replicas; itself on one."""
    if self.replicas == 1:
      return value
    return tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, value)

  def _all_reduce(self, grads: list) -> list:
    """The whole batch's gradients, dense, on every replica.

    Dense first, on any number of replicas: an embedding's gradient is
    IndexedSlices with one row per token occurrence, and Keras' global norm
    (like TF1's tf.global_norm, which the authors' clip used) adds up each
    occurrence's squared norm rather than that of their sum, so the clip
    would differ between one device and an all-reduce (which sums the rows).
    Summing them here clips by the true norm. FusedAdam densifies anyway.
    """
    grads = [tf.convert_to_tensor(g) for g in grads]
    return grads if self.replicas == 1 else self._sum_over_replicas(grads)

  def _share(self, mean: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """A replica's part of a global mean: its mean over `count` items times
    count / (the items over all replicas), so that the parts sum to it."""
    if self.replicas == 1:
      return mean
    return mean * count / self._sum_over_replicas(count)

  @staticmethod
  def _accumulate(tracker: keras.metrics.Mean, total: tf.Tensor,
                  count: tf.Tensor) -> None:
    """Adds a weighted sum to a Mean tracker (what update_state would add)."""
    tracker.total.assign_add(total)
    tracker.count.assign_add(count)

  def update_rollout_policy(self, rate: float | None = None) -> None:
    """beta <- rate * beta + (1 - rate) * theta (rate 0 copies theta)."""
    rate = self.config.rollout_update_rate if rate is None else rate
    for beta, theta in zip(self.rollout_policy.weights,
                           self.generator.weights):
      beta.assign(rate * beta + (1.0 - rate) * theta)

  def read_trackers(self, *names: str) -> Metrics:
    """The named trackers' means since their last read; resets them."""
    out = {name: float(self.trackers[name].result()) for name in names}
    for name in names:
      self.trackers[name].reset_state()
    return out
