"""The compiled training steps over a training state (state.SeqGAN).

Each public step (`mle_step`, `scheduled_sampling_step`, `dis_step`,
`adversarial_generator_step`) is a `tf.function` without AutoGraph that runs
its replica function on every replica's share of the global batch,
all-reduces the gradients before the update (distribute.Replicas), sums the
metrics over replicas, updates the state's trackers and returns the metrics as
a dict. On one device all of that is the plain step. Loops over tensors are
static Python ranges and epochs are driven from Python, one compiled step per
batch: AutoGraph's conversion of nested bound-method tf.functions failed at
random in long runs ("missing 1 required positional argument").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import tensorflow as tf

from seqgan_tf.modeling import baselines, rollout, sampler, through_end
from seqgan_tf.modeling.losses import mle_loss, policy_gradient_loss
from seqgan_tf.training import distribute

if TYPE_CHECKING:
  from seqgan_tf.training.state import SeqGAN


class Steps:
  """MLE, scheduled-sampling, D and policy-gradient steps of one state."""

  def __init__(self, state: SeqGAN):
    self.state = state
    # XLA where asked (--jit_compile), or by default where a GPU is visible:
    # the MLE and D steps, and the G step with its roll-out. Sampling the
    # negatives stays in graph mode: random draws under XLA measured slower
    # on CPU (bench/results/synthetic_xla.md), and it has no gradient to
    # fuse. Over several replicas a compiled step that updates variables
    # fails (a resource of one device read on another): no XLA there.
    self.jit = (state.config.use_xla(
        bool(tf.config.list_physical_devices("GPU"))) and state.replicas == 1)
    self.mle_step = self._compile(self._mle_step)
    self.scheduled_sampling_step = self._compile(self._scheduled_sampling_step)
    self.dis_step = self._compile(self._dis_step)
    self.adversarial_generator_step = self._compile(
        self._adversarial_generator_step)

  def _compile(self, step):
    return tf.function(step, jit_compile=self.jit, autograph=False)

  @staticmethod
  def _accumulate(tracker: keras.metrics.Mean, total: tf.Tensor,
                  count: tf.Tensor) -> None:
    """Adds a weighted sum to a Mean tracker (what update_state would add)."""
    tracker.total.assign_add(total)
    tracker.count.assign_add(count)

  # ---------------------------------------------------------------- G, MLE
  def _mle_step(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
    """One MLE step on real tokens [batch, T]: the mean token NLL."""
    metrics = self.state.devices.run(self._mle_replica, tokens)
    self.state.trackers["mle_loss"].update_state(metrics["mle_loss"])
    return metrics

  def _mle_replica(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
    variables = self.state.generator.trainable_variables
    mask = self._mask(tokens)
    with tf.GradientTape() as tape:
      loss = self.state.devices.share(mle_loss(self.state.generator.log_probs(tokens), mask),
                         self._count(tokens, mask))
    grads = self.state.devices.all_reduce(tape.gradient(loss, variables))
    self.state.mle_optimizer.apply(grads, variables)
    return {"mle_loss": loss}

  def _scheduled_sampling_step(self, tokens: tf.Tensor, truth_rate: tf.Tensor,
                               seed: tf.Tensor) -> dict[str, tf.Tensor]:
    """One MLE step whose inputs are real with probability `truth_rate`, else
    G's own samples (baselines.scheduled_sampling_log_probs)."""
    metrics = self.state.devices.run(self._scheduled_sampling_replica, tokens, truth_rate,
                        seed)
    self.state.trackers["mle_loss"].update_state(metrics["mle_loss"])
    return metrics

  def _scheduled_sampling_replica(self, tokens, truth_rate, seed):
    variables = self.state.generator.trainable_variables
    mask = self._mask(tokens)
    with tf.GradientTape() as tape:
      log_probs, _ = baselines.scheduled_sampling_log_probs(
          self.state.generator, tokens, truth_rate, seed,
          distribute.global_rows(tokens.shape[0]))
      loss = self.state.devices.share(mle_loss(log_probs, mask), self._count(tokens, mask))
    grads = self.state.devices.all_reduce(tape.gradient(loss, variables))
    self.state.mle_optimizer.apply(grads, variables)
    return {"mle_loss": loss}

  def _count(self, tokens: tf.Tensor, mask: tf.Tensor | None) -> tf.Tensor:
    """The tokens a loss averages over: all, or those through </s>."""
    if mask is None:
      return tf.cast(tf.size(tokens), tf.float32)
    return tf.reduce_sum(mask)

  def mle_epoch(self, dataset: tf.data.Dataset) -> None:
    """One pass over real [batch, T] batches; updates the `mle_loss` tracker."""
    for tokens in dataset:
      self.mle_step(tokens)

  # ---------------------------------------------------------------- D
  def _dis_step(self, tokens: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor,
                step: tf.Tensor) -> dict[str, tf.Tensor]:
    """One D step on [batch, T] tokens with [batch] labels (1 = real).

    Dropout's seed is fold_seed(seed, step): reproducible and resumable.
    """
    m = self.state.devices.run(self._dis_replica, tokens, labels, seed, step)
    self.state.trackers["dis_loss"].update_state(m["dis_loss"])
    self._accumulate(self.state.trackers["dis_acc_real"], m["correct_real"],
                     m["real"])
    self._accumulate(self.state.trackers["dis_acc_fake"], m["correct_fake"],
                     m["fake"])
    return {"dis_loss": m["dis_loss"]}

  def _dis_replica(self, tokens, labels, seed, step):
    variables = self.state.discriminator.trainable_variables
    batch = tokens.shape[0]
    with tf.GradientTape() as tape:
      logits = self.state.discriminator(
          tokens, training=True, dropout_seed=sampler.fold_seed(seed, step),
          dropout_rows=self._rows_tensor(batch))
      cross_entropy = self.state.devices.share(tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)),
          tf.constant(float(batch)))
      l2 = self.state.discriminator.l2_loss()
      loss = cross_entropy + (l2 if self.state.replicas == 1 else l2 / self.state.replicas)
    grads = self.state.devices.all_reduce(tape.gradient(loss, variables))
    self.state.dis_optimizer.apply(grads, variables)
    correct = tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == labels,
                      tf.float32)
    is_real = tf.cast(labels, tf.float32)
    return {"dis_loss": loss,
            "correct_real": tf.reduce_sum(correct * is_real),
            "real": tf.reduce_sum(is_real),
            "correct_fake": tf.reduce_sum(correct * (1.0 - is_real)),
            "fake": tf.reduce_sum(1.0 - is_real)}

  def dis_epoch(self, dataset: tf.data.Dataset, seed: tf.Tensor) -> None:
    """One pass over (tokens, labels) batches; updates the dis_* trackers."""
    for step, (tokens, labels) in enumerate(dataset):
      self.dis_step(tokens, labels, seed, tf.constant(step, tf.int32))

  @tf.function(autograph=False)
  def sample(self, num_samples: int, seed: tf.Tensor) -> tf.Tensor:
    """[num_samples, T] sequences from G_theta (fresh negatives, evaluation)."""
    return sampler.sample_many(self.state.generator, num_samples, seed)

  # ---------------------------------------------------------------- G, PG
  def _adversarial_generator_step(self, seed: tf.Tensor
                                  ) -> dict[str, tf.Tensor]:
    """Sample a batch, reward it by roll-outs, take one policy-gradient step.

    Minimises -sum_{b,t} log G(y_t | y_<t) * Q_t (a sum, as the authors do;
    Q less its batch mean per position with --reward_baseline=batch_mean),
    then moves the roll-out policy: beta <- r * beta + (1 - r) * theta.
    Each replica samples, rolls out and scores its rows of the batch.
    """
    m = self.state.devices.run(self._policy_gradient_replica, seed)
    self.state.update_rollout_policy()
    metrics = {"pg_loss": m["pg_loss"],
               "reward_mean": m["reward_sum"] / m["reward_count"],
               "reward_std": tf.sqrt(tf.maximum(
                   m["reward_square_sum"] / m["reward_count"]
                   - (m["reward_sum"] / m["reward_count"]) ** 2, 0.0)),
               "reward_final": m["reward_final_sum"] / self.state.config.batch_size,
               # Every replica holds the same all-reduced gradient.
               "grad_norm": m["grad_norm"] / self.state.replicas}
    for name, value in metrics.items():
      self.state.trackers[name].update_state(value)
    return metrics

  def _policy_gradient_replica(self, seed):
    config = self.state.config
    rows = config.batch_size // self.state.replicas
    where = distribute.global_rows(rows)
    sample_seed = sampler.fold_seed(seed, 0)
    tokens = sampler.generate(
        self.state.generator, rows, lambda t: distribute.uniform(
            [rows, 2], sampler.fold_seed(sample_seed, t), 0, where))
    reward = rollout.rewards(self.state.rollout_policy, self.state.reward, tokens,
                             config.rollout_num, sampler.fold_seed(seed, 1),
                             where)
    mask = self._mask(tokens)
    advantage = reward
    if config.reward_baseline == "batch_mean":
      advantage = baselines.batch_mean_baseline(
          reward, mask, self.state.devices.sum)
    variables = self.state.generator.trainable_variables
    with tf.GradientTape() as tape:
      loss = policy_gradient_loss(self.state.generator.log_probs(tokens), advantage,
                                  mask)
    grads = self.state.devices.all_reduce(tape.gradient(loss, variables))
    self.state.pg_optimizer.apply(grads, variables)
    live = tf.ones_like(reward) if mask is None else mask
    return {"pg_loss": loss, "reward_sum": tf.reduce_sum(reward * live),
            "reward_count": tf.reduce_sum(live),
            "reward_square_sum": tf.reduce_sum(tf.square(reward) * live),
            "reward_final_sum": tf.reduce_sum(reward[:, -1]),
            "grad_norm": tf.linalg.global_norm(grads)}

  @staticmethod
  def _rows_tensor(local: int) -> tf.Tensor | None:
    """distribute.global_rows as a [2] tensor (Keras calls take no tuples of
    tensors and ints)."""
    rows = distribute.global_rows(local)
    return None if rows is None else tf.stack(rows)

  def _mask(self, tokens: tf.Tensor) -> tf.Tensor | None:
    """[batch, T] 1 through each row's end token; None without an end token."""
    return None if self.state.end_token is None else through_end(tokens,
                                                           self.state.end_token)
