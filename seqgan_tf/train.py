"""SeqGAN training: MLE pre-training, D pre-training, then the adversarial loop.

Every random draw is stateless and keyed by (seed, phase, counter), and the
counters live in the checkpoint, so a resumed run repeats exactly the draws an
uninterrupted one would have made.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from seqgan_tf import export, input_pipeline, rollout, sampler, tasks, tokenizer
from seqgan_tf.config import Config, ConfigError
from seqgan_tf.models import Discriminator, Generator
from seqgan_tf.optim import FusedAdam

Metrics = dict[str, float]


class TrainingDivergedError(RuntimeError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


# Phase ids, used in seeds and in the checkpoint's progress counters.
MLE, DIS_PRETRAIN, ADVERSARIAL, EVAL = 1, 2, 3, 4  # tasks.py uses 5


def stateless_seed(config: Config, *path: int) -> tf.Tensor:
  """A [2] int32 seed for the draw at `path` (phase, counters...)."""
  return sampler.seed_at(config.seed, *path)


def int_seed(config: Config, *path: int) -> int:
  """A Python int seed (tf.data shuffles) for the draw at `path`."""
  return int(np.random.SeedSequence([config.seed, *path]).generate_state(1)[0]
             % (2**31 - 1))


def policy_gradient_loss(log_probs: tf.Tensor, reward: tf.Tensor) -> tf.Tensor:
  """-sum_{b,t} log G(y_t | y_<t) * Q_t: a sum, no baseline (authors' code).

  Args:
    log_probs: [batch, T] log-probabilities of the sampled tokens.
    reward: [batch, T] Q values; treated as constants.
  """
  return -tf.reduce_sum(log_probs * tf.stop_gradient(reward))


def make_optimizer(learning_rate: float, clipnorm: float | None,
                   name: str) -> keras.optimizers.Adam:
  # TF1's Adam epsilon (1e-8), as the authors trained with.
  return FusedAdam(learning_rate, epsilon=1e-8, global_clipnorm=clipnorm,
                   name=name)


class SeqGAN(tf.Module):
  """The players, their optimisers, progress counters and step functions.

  Args:
    config: a validated Config.
    vocab_size: the task's vocabulary (default: --vocab_size).
    start_token: the id G reads first (default: --start_token).
  """

  def __init__(self, config: Config, vocab_size: int | None = None,
               start_token: int | None = None):
    super().__init__(name="seqgan")
    self.config = config
    vocab_size = vocab_size or config.vocab_size
    start_token = config.start_token if start_token is None else start_token
    gen_args = (vocab_size, config.gen_emb_dim, config.gen_hidden_dim,
                config.seq_length, start_token, config.gen_init_stddev)
    self.generator = Generator(*gen_args, seed=config.seed, name="generator")
    self.rollout_policy = Generator(*gen_args, name="rollout_policy")
    self.discriminator = Discriminator(
        vocab_size, config.dis_emb_dim, *config.dis_kernels(),
        config.dis_dropout_keep, config.dis_l2, seed=config.seed + 1000)
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
    # Progress: units completed in each phase.
    self.mle_epochs_done = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.dis_pretrain_steps_done = tf.Variable(0, dtype=tf.int64,
                                               trainable=False)
    self.adv_iterations_done = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.trackers = {name: keras.metrics.Mean(name) for name in (
        "mle_loss", "dis_loss", "dis_acc_real", "dis_acc_fake")}

    # No AutoGraph anywhere: every loop over tensors is a static Python range,
    # and epochs are driven from Python, one compiled step per batch (~0.3 ms
    # a call). AutoGraph's conversion of nested bound-method tf.functions
    # failed at random in long runs here ("missing 1 required positional
    # argument") and is not needed.
    jit = config.jit_compile
    self._mle_step = tf.function(self._mle_step_impl, jit_compile=jit,
                                 autograph=False)
    self._dis_step = tf.function(self._dis_step_impl, jit_compile=jit,
                                 autograph=False)

  # ---------------------------------------------------------------- G, MLE
  def _mle_step_impl(self, tokens: tf.Tensor) -> tf.Tensor:
    """One MLE step. tokens: [batch, T]. Returns the mean token NLL."""
    variables = self.generator.trainable_variables
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(self.generator.log_probs(tokens))
    self.mle_optimizer.apply(tape.gradient(loss, variables), variables)
    self.trackers["mle_loss"].update_state(loss)
    return loss

  def mle_epoch(self, dataset: tf.data.Dataset) -> None:
    """One pass over real [batch, T] batches; updates the `mle_loss` tracker."""
    for tokens in dataset:
      self._mle_step(tokens)

  # ---------------------------------------------------------------- D
  def _dis_step_impl(self, tokens: tf.Tensor, labels: tf.Tensor,
                     seed: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
    """One D step on [batch, T] tokens with [batch] labels (1 = real).

    Dropout's seed is fold_seed(seed, step): reproducible and resumable.
    """
    variables = self.discriminator.trainable_variables
    with tf.GradientTape() as tape:
      logits = self.discriminator(tokens, training=True,
                                  dropout_seed=sampler.fold_seed(seed, step))
      cross_entropy = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
      loss = cross_entropy + self.discriminator.l2_loss()
    self.dis_optimizer.apply(tape.gradient(loss, variables), variables)
    correct = tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == labels,
                      tf.float32)
    is_real = tf.cast(labels, tf.float32)
    self.trackers["dis_loss"].update_state(loss)
    self.trackers["dis_acc_real"].update_state(correct, sample_weight=is_real)
    self.trackers["dis_acc_fake"].update_state(correct,
                                               sample_weight=1.0 - is_real)
    return loss

  def dis_epoch(self, dataset: tf.data.Dataset, seed: tf.Tensor) -> None:
    """One pass over (tokens, labels) batches; updates the dis_* trackers."""
    for step, (tokens, labels) in enumerate(dataset):
      self._dis_step(tokens, labels, seed, tf.constant(step, tf.int32))

  @tf.function(autograph=False)
  def sample(self, num_samples: int, seed: tf.Tensor) -> tf.Tensor:
    """[num_samples, T] sequences from G_theta (fresh negatives, evaluation)."""
    return sampler.sample_many(self.generator, num_samples, seed)

  # ---------------------------------------------------------------- G, PG
  @tf.function(autograph=False)
  def adversarial_generator_step(self, seed: tf.Tensor) -> dict[str, tf.Tensor]:
    """Sample a batch, reward it by roll-outs, take one policy-gradient step.

    Minimises -sum_{b,t} log G(y_t | y_<t) * Q_t (a sum, as the authors do),
    then moves the roll-out policy: beta <- r * beta + (1 - r) * theta.
    """
    config = self.config
    tokens = sampler.sample(self.generator, config.batch_size,
                            sampler.fold_seed(seed, 0))
    reward = rollout.rewards(self.rollout_policy,
                             self.discriminator.prob_real, tokens,
                             config.rollout_num, sampler.fold_seed(seed, 1))
    variables = self.generator.trainable_variables
    with tf.GradientTape() as tape:
      loss = policy_gradient_loss(self.generator.log_probs(tokens), reward)
    grads = tape.gradient(loss, variables)
    self.pg_optimizer.apply(grads, variables)
    self.update_rollout_policy()
    return {"pg_loss": loss, "reward_mean": tf.reduce_mean(reward),
            "reward_final": tf.reduce_mean(reward[:, -1]),
            "grad_norm": tf.linalg.global_norm(grads)}

  def update_rollout_policy(self, rate: float | None = None) -> None:
    """beta <- rate * beta + (1 - rate) * theta (rate 0 copies theta)."""
    rate = self.config.rollout_update_rate if rate is None else rate
    for beta, theta in zip(self.rollout_policy.weights,
                           self.generator.weights):
      beta.assign(rate * beta + (1.0 - rate) * theta)

  def read_trackers(self, *names: str) -> Metrics:
    out = {name: float(self.trackers[name].result()) for name in names}
    for name in names:
      self.trackers[name].reset_state()
    return out


# -------------------------------------------------------------------- driver
def serving_module(config: Config, workdir: str,
                   generator: Generator) -> export.GeneratorServing:
  """The generator with its task's vocabulary, ready to export."""
  if config.task == "synthetic":
    return export.GeneratorServing(
        generator, [str(i) for i in range(config.vocab_size)], "space",
        reserved=False)
  vocab = tokenizer.Vocabulary.load(os.path.join(workdir, "vocab.txt"))
  return export.GeneratorServing(generator, vocab.tokens, vocab.level,
                                 reserved=True)


def restore_generator(config: Config, workdir: str) -> Generator:
  """G from the workdir's latest checkpoint (G alone: no optimiser, no D)."""
  check_workdir(config, workdir, write=False)
  if config.task == "synthetic":
    vocab_size, start = config.vocab_size, config.start_token
  else:
    vocab_size = len(tokenizer.Vocabulary.load(
        os.path.join(workdir, "vocab.txt")))
    start = tokenizer.START_ID
  generator = Generator(vocab_size, config.gen_emb_dim, config.gen_hidden_dim,
                        config.seq_length, start, name="generator")
  latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
  if latest is None:
    raise ConfigError(f"{workdir} holds no checkpoint; train first.")
  status = tf.train.Checkpoint(generator=generator).restore(latest)
  status.expect_partial()                 # D, G_beta and optimisers stay out
  try:
    status.assert_existing_objects_matched()
  except AssertionError as e:
    raise ConfigError(f"{latest} does not hold this configuration's "
                      f"generator ({e}).") from e
  return generator


def export_from_workdir(config: Config, workdir: str) -> str:
  """Exports the generator of the workdir's latest checkpoint (--mode=export)."""
  generator = restore_generator(config, workdir)
  path = export.export(serving_module(config, workdir, generator),
                       os.path.join(workdir, "export"), config.export_name)
  logging.info("Exported %s to %s", config.export_name, path)
  return path


def check_workdir(config: Config, workdir: str, write: bool = True) -> None:
  """Refuses a workdir that holds a run of another model configuration."""
  path = os.path.join(workdir, "config.json")
  if not write and not tf.io.gfile.exists(path):
    raise ConfigError(f"{workdir} holds no run (no config.json); check "
                      "--workdir.")
  tf.io.gfile.makedirs(workdir)
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      saved = json.load(f)
    ours = config.model_fingerprint()
    # A field newer than the saved run behaved as its default there.
    defaults = Config().model_fingerprint()
    diff = {k: (saved.get(k, defaults[k]), v) for k, v in ours.items()
            if saved.get(k, defaults[k]) != v}
    if diff:
      lines = ", ".join(f"--{k}: workdir has {a!r}, flags give {b!r}"
                        for k, (a, b) in sorted(diff.items()))
      raise ConfigError(f"{workdir} holds a run of another configuration "
                        f"({lines}). Use a new --workdir, or the flags that "
                        "run was started with.")
  with tf.io.gfile.GFile(path + ".tmp", "w") as f:
    json.dump(config.model_fingerprint() | {"full": json.loads(config.to_json())},
              f, indent=2, sort_keys=True)
  tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def _check_finite(metrics: Metrics, phase: str, step: int,
                  manager: tf.train.CheckpointManager) -> None:
  bad = [k for k, v in metrics.items() if not math.isfinite(v)]
  if bad:
    raise TrainingDivergedError(
        f"{phase} step {step}: {', '.join(bad)} is not finite. Training "
        f"stopped; the last good checkpoint is {manager.latest_checkpoint}. "
        "Lower the learning rate or change --seed, then resume or restart.")


class _Progress:
  """Rate and ETA for a long phase's log lines."""

  def __init__(self, phase: str, total: int, start: int):
    self.phase, self.total, self.start = phase, total, start
    self.t0 = time.perf_counter()

  def line(self, done: int, metrics: Metrics) -> str:
    elapsed = time.perf_counter() - self.t0
    rate = elapsed / max(done - self.start, 1)
    eta = rate * (self.total - done)
    values = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
    return (f"{self.phase} {done}/{self.total} {values} "
            f"({rate:.2f} s/unit, eta {eta / 60:.1f} min)")


def train_and_evaluate(config: Config, workdir: str) -> dict[str, Any]:
  """Runs (or resumes) the whole schedule; returns the final metrics."""
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  keras.utils.set_random_seed(config.seed)
  check_workdir(config, workdir)

  task = tasks.build(config, workdir)
  real = tf.constant(task.real)
  model = SeqGAN(config, task.vocab_size, task.start_token)
  checkpoint = tf.train.Checkpoint(
      generator=model.generator, rollout_policy=model.rollout_policy,
      discriminator=model.discriminator, mle_optimizer=model.mle_optimizer,
      pg_optimizer=model.pg_optimizer, dis_optimizer=model.dis_optimizer,
      mle_epochs_done=model.mle_epochs_done,
      dis_pretrain_steps_done=model.dis_pretrain_steps_done,
      adv_iterations_done=model.adv_iterations_done)
  manager = tf.train.CheckpointManager(
      checkpoint, os.path.join(workdir, "checkpoints"),
      max_to_keep=config.keep_checkpoints)
  if manager.latest_checkpoint:
    try:
      checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
      raise ConfigError(f"checkpoint {manager.latest_checkpoint} does not fit "
                        f"this configuration ({e}). Use a new --workdir.") from e
    # Keras keeps learning rates in (checkpointed) variables: the flags win.
    model.mle_optimizer.learning_rate = config.gen_learning_rate
    model.pg_optimizer.learning_rate = config.gen_learning_rate
    model.dis_optimizer.learning_rate = config.dis_learning_rate
    logging.info("Resumed from %s: %d MLE epochs, %d D pre-training steps, "
                 "%d adversarial iterations done.", manager.latest_checkpoint,
                 int(model.mle_epochs_done), int(model.dis_pretrain_steps_done),
                 int(model.adv_iterations_done))
  writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))
  metrics_path = os.path.join(workdir, "eval_metrics.jsonl")

  def evaluate(global_step: int, phase: str, final: bool = False) -> Metrics:
    """Task metrics of G, to TensorBoard, eval_metrics.jsonl and the log."""
    t0 = time.perf_counter()
    metrics, texts = task.evaluate(
        model.generator, stateless_seed(config, EVAL, global_step, int(final)),
        final)
    with writer.as_default(step=global_step):
      for name, value in metrics.items():
        tf.summary.scalar(("final/" if final else "") + name, value)
      tf.summary.text("samples", tf.constant(texts))
    with tf.io.gfile.GFile(metrics_path, "a") as f:
      f.write(json.dumps({"global_step": global_step, "phase": phase,
                          "final": final, **metrics}) + "\n")
    logging.info("[%s] global step %d: %s (%.1f s)", phase, global_step,
                 " ".join(f"{k}={v:.4f}" for k, v in metrics.items()),
                 time.perf_counter() - t0)
    for text in texts[:3]:
      logging.info("  sample: %s", text)
    return metrics

  def write_scalars(step: int, prefix: str, metrics: Metrics) -> None:
    with writer.as_default(step=step):
      for k, v in metrics.items():
        tf.summary.scalar(f"{prefix}/{k}", v)

  def train_dis(step_seed: tuple[int, ...]) -> Metrics:
    """Fresh negatives, then --dis_epochs epochs over real + fake."""
    fake = model.sample(config.num_negatives,
                        stateless_seed(config, *step_seed, 0))
    # Equal classes, as the authors train D: a fresh subset of the real set
    # when it is larger than the negatives (real text corpora).
    positives = real
    if real.shape[0] > config.num_negatives:
      rng = np.random.default_rng(int_seed(config, *step_seed, 2))
      positives = tf.gather(real, rng.choice(real.shape[0],
                                             config.num_negatives, False))
    for epoch in range(config.dis_epochs):
      ds = input_pipeline.dis_dataset(positives, fake, config.batch_size,
                                      int_seed(config, *step_seed, epoch))
      model.dis_epoch(ds, stateless_seed(config, *step_seed, 1, epoch))
    return model.read_trackers("dis_loss", "dis_acc_real", "dis_acc_fake")

  # ---- 1. MLE pre-training of G.
  start = int(model.mle_epochs_done)
  if start == 0 and config.pretrain_gen_epochs > 0:
    evaluate(0, "mle")
  progress = _Progress("mle epoch", config.pretrain_gen_epochs, start)
  for epoch in range(start, config.pretrain_gen_epochs):
    model.mle_epoch(input_pipeline.mle_dataset(real, config.batch_size,
                                               int_seed(config, MLE, epoch)))
    metrics = model.read_trackers("mle_loss")
    _check_finite(metrics, "MLE pre-training", epoch + 1, manager)
    model.mle_epochs_done.assign(epoch + 1)
    write_scalars(epoch + 1, "generator", metrics)
    logging.info(progress.line(epoch + 1, metrics))
    last = epoch + 1 == config.pretrain_gen_epochs
    if (epoch + 1) % config.eval_every == 0 or last:
      evaluate(epoch + 1, "mle")
    if (epoch + 1) % config.checkpoint_every == 0 or last:
      manager.save()
  mle_end = config.pretrain_gen_epochs

  # ---- 2. D pre-training on fresh negatives.
  start = int(model.dis_pretrain_steps_done)
  progress = _Progress("D pre-training step", config.pretrain_dis_steps, start)
  for step in range(start, config.pretrain_dis_steps):
    metrics = train_dis((DIS_PRETRAIN, step))
    _check_finite(metrics, "D pre-training", step + 1, manager)
    model.dis_pretrain_steps_done.assign(step + 1)
    write_scalars(step + 1, "dis_pretrain", metrics)
    logging.info(progress.line(step + 1, metrics))
    if ((step + 1) % config.checkpoint_every == 0
        or step + 1 == config.pretrain_dis_steps):
      manager.save()

  # ---- 3. Adversarial training.
  start = int(model.adv_iterations_done)
  if start == 0 and config.adv_iterations > 0:
    model.update_rollout_policy(rate=0.0)  # G_beta starts as a copy of G
  progress = _Progress("adversarial iteration", config.adv_iterations, start)
  for it in range(start, config.adv_iterations):
    metrics = {}
    for g in range(config.adv_g_steps):
      out = model.adversarial_generator_step(
          stateless_seed(config, ADVERSARIAL, it, 0, g))
      metrics = {k: float(v) for k, v in out.items()}
    for d in range(config.adv_d_steps):
      metrics |= train_dis((ADVERSARIAL, it, 1, d))
    _check_finite(metrics, "adversarial", it + 1, manager)
    model.adv_iterations_done.assign(it + 1)
    global_step = mle_end + it + 1
    write_scalars(global_step, "adversarial", metrics)
    logging.info(progress.line(it + 1, metrics))
    last = it + 1 == config.adv_iterations
    if (it + 1) % config.eval_every == 0 or last:
      evaluate(global_step, "adversarial")
    if (it + 1) % config.checkpoint_every == 0 or last:
      manager.save()

  # ---- Final figures (synthetic: NLL-oracle on --final_nll_samples).
  final_step = mle_end + config.adv_iterations
  results = evaluate(final_step, "final", final=True)
  results["global_step"] = final_step
  writer.flush()
  tmp = os.path.join(workdir, "results.json.tmp")
  with tf.io.gfile.GFile(tmp, "w") as f:
    json.dump(results, f, indent=2)
  tf.io.gfile.rename(tmp, os.path.join(workdir, "results.json"), overwrite=True)
  path = export.export(serving_module(config, workdir, model.generator),
                       os.path.join(workdir, "export"), config.export_name)
  logging.info("Done: %s. Generator exported to %s", json.dumps(results), path)
  return results
