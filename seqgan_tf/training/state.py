"""The training state: players, optimisers, counters, checkpoint.

`SeqGAN` holds the players, their optimisers and the progress counters, and
alone knows what a checkpoint holds (`checkpoint()`). Its compiled steps are
steps.py's, over this state; phases.py calls them, loop.py runs the phases.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from seqgan_tf.config import Config, ConfigError
from seqgan_tf.modeling import Discriminator, Generator, rollout
from seqgan_tf.training import distribute, optim, steps as steps_lib

Metrics = dict[str, float]

# What the trackers average over a unit (an epoch, a D step, an iteration).
TRACKERS = ("mle_loss", "dis_loss", "dis_acc_real", "dis_acc_fake", "pg_loss",
            "reward_mean", "reward_std", "reward_final", "grad_norm")
DIS_METRICS = ("dis_loss", "dis_acc_real", "dis_acc_fake")
# reward_std: the spread of Q over a batch's live tokens; near 0, D no longer
# tells G's samples apart and the policy gradient carries no signal.
PG_METRICS = ("pg_loss", "reward_mean", "reward_std", "reward_final",
              "grad_norm")


@dataclasses.dataclass(frozen=True)
class Position:
  """Where inside a phase's unit a stopped run was; zeros between units.

  phase: the phase's SeedPath id (0: between units). counters: its loop
  counters, outermost first: an MLE epoch's batch; a D step's epoch and
  batch; an adversarial iteration's G step, D step, D epoch and batch.
  """
  phase: int = 0
  counters: tuple[int, int, int, int] = (0, 0, 0, 0)

  def values(self) -> list[int]:
    """As the checkpoint stores it: [phase, *counters]."""
    return [int(self.phase), *self.counters]


class SeqGAN(tf.Module):
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
    self.devices = distribute.Replicas(self.strategy)
    self.replicas = self.devices.count
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
    self.position = tf.Variable(tf.zeros([len(Position().values())],
                                         tf.int64), trainable=False)
    self.mle_best_nll = tf.Variable(float("inf"), trainable=False)
    self.mle_best_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)

    self.steps = steps_lib.Steps(self)
    # The steps, called as the state's own (phases.py, the ETA probe, bench/).
    self.mle_step = self.steps.mle_step
    self.scheduled_sampling_step = self.steps.scheduled_sampling_step
    self.dis_step = self.steps.dis_step
    self.adversarial_generator_step = self.steps.adversarial_generator_step
    self.sample = self.steps.sample
    self.mle_epoch = self.steps.mle_epoch
    self.dis_epoch = self.steps.dis_epoch

  @property
  def jit(self) -> bool:
    return self.steps.jit

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
        end_token=end_token,
        # loop.py resolves `auto` by measurement before it builds the state
        # (precision.resolve); a state built directly computes in float32.
        compute_dtype=("float32" if config.dis_compute_dtype == "auto"
                       else config.dis_compute_dtype))
    self.reward = reward or self.discriminator.prob_real
    # Separate Adam states for MLE and the policy gradient (authors' code).
    self.mle_optimizer = optim.make_adam(config.gen_learning_rate,
                                        config.gen_grad_clip, "mle_adam")
    self.pg_optimizer = optim.make_adam(config.policy_gradient_learning_rate,
                                       config.gen_grad_clip, "pg_adam")
    self.dis_optimizer = optim.make_adam(config.dis_learning_rate, None,
                                        "dis_adam")
    self.mle_optimizer.build(self.generator.trainable_variables)
    self.pg_optimizer.build(self.generator.trainable_variables)
    self.dis_optimizer.build(self.discriminator.trainable_variables)
    self.trackers = {name: keras.metrics.Mean(name) for name in TRACKERS}
    # Early stopping (--mle_patience): G at its best validation epoch, that
    # epoch and its NLL; checkpointed, so a resumed run stops where an
    # uninterrupted one would. Only built where used: older checkpoints lack it.
    self.best_generator = None
    if config.mle_patience:
      self.best_generator = Generator(*gen_args, name="best_generator")

  def checkpoint(self) -> tf.train.Checkpoint:
    """Everything a run needs to continue exactly where it stopped."""
    return tf.train.Checkpoint(
        generator=self.generator, rollout_policy=self.rollout_policy,
        discriminator=self.discriminator, mle_optimizer=self.mle_optimizer,
        pg_optimizer=self.pg_optimizer, dis_optimizer=self.dis_optimizer,
        mle_epochs_done=self.mle_epochs_done,
        dis_pretrain_steps_done=self.dis_pretrain_steps_done,
        adv_iterations_done=self.adv_iterations_done, position=self.position,
        trackers={k: list(m.variables) for k, m in self.trackers.items()},
        **({} if self.best_generator is None else dict(
            best_generator=self.best_generator,
            mle_best_nll=self.mle_best_nll,
            mle_best_epoch=self.mle_best_epoch)))

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

  def copy_generator(self, source: Generator, target: Generator) -> None:
    for to, value in zip(target.weights, source.weights):
      to.assign(value)

  def read_position(self) -> Position:
    phase, *counters = (int(v) for v in self.position.numpy())
    return Position(phase, tuple(counters))

  def save_position(self, position: Position) -> None:
    self.position.assign(position.values())

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
