"""One training step of each method, on a tiny synthetic or text state.

Shared by xla_test.py (compiled against graph mode) and distribute_steps.py
(one device against two). A case is a method and a task:
- synthetic: no end token, G's own vocabulary of 32 ids;
- text: 8 ids with <pad> 0, <s> 1, </s> 2, <unk> 3, so that most sampled rows
  end inside the batch (p(</s>) is about 1/8 a step) and the masks matter.
The clip is tiny (0.05), so that it scales every G step's gradient.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from conftest import smoke_config
from seqgan_tf.modeling import baselines
from seqgan_tf.training import distribute
from seqgan_tf.training.state import SeqGAN

NO_D = dict(pretrain_dis_steps=0, adv_iterations=0)  # what MLE and SS refuse
TEXT_VOCAB, PAD, START, END, UNK = 8, 0, 1, 2, 3
CASES = [("mle", "synthetic"), ("mle", "text"), ("ss", "synthetic"),
         ("ss", "text"), ("seqgan", "synthetic"), ("seqgan", "text"),
         ("pg_bleu", "synthetic"), ("pg_bleu", "text")]


def real_tokens(task: str, config) -> np.ndarray:
  """[batch, T] real sequences; on text each ends with </s> and padding."""
  rng = np.random.default_rng(7)
  batch, length = config.batch_size, config.seq_length
  if task == "synthetic":
    return rng.integers(0, config.vocab_size, [batch, length]).astype(np.int32)
  tokens = rng.integers(UNK, TEXT_VOCAB, [batch, length]).astype(np.int32)
  for row, end in enumerate(rng.integers(1, length, batch)):
    tokens[row, end] = END
    tokens[row, end + 1:] = PAD
  return tokens


def build(method: str, task: str, jit: str = "off",
          strategy: tf.distribute.Strategy | None = None) -> SeqGAN:
  no_d = {"mle": NO_D, "ss": NO_D, "pg_bleu": dict(pretrain_dis_steps=0,
                                                   adv_d_steps=0)}
  config = smoke_config(method=method, jit_compile=jit, gen_grad_clip=0.05,
                        **no_d.get(method, {}))
  text = task == "text"
  vocab = TEXT_VOCAB if text else config.vocab_size
  reward = None
  if method == "pg_bleu":
    references = [list(r[r != PAD]) for r in real_tokens(task, config)]
    if text:   # what tasks.bleu_reward gives: hypotheses end at </s>
      references = [r[:r.index(END)] for r in references]
    reward = baselines.BleuReward(
        references, 3, vocab, config.seq_length,
        end_token=END if text else None, unknown=UNK if text else None,
        drop_tokens=(PAD, START) if text else ())
  model = SeqGAN(config, vocab, START if text else 0, END if text else None,
                 reward, strategy)
  model.update_rollout_policy(rate=0.0)  # G_beta starts as G, as in training
  return model


def run_steps(model: SeqGAN, method: str, task: str, steps: int = 2) -> dict:
  """`steps` steps of `method`; returns the last step's metrics as floats."""
  tokens = tf.constant(real_tokens(task, model.config))
  if model.replicas > 1:   # each replica gets its rows, as in training
    tokens = next(iter(distribute.distribute(
        model.strategy, lambda: tf.data.Dataset.from_tensors(tokens),
        model.config.batch_size)))
  metrics = {}
  for step in range(steps):
    seed = tf.constant([11, step])
    if method == "mle":
      metrics = model.mle_step(tokens)
    elif method == "ss":
      metrics = model.scheduled_sampling_step(tokens, tf.constant(0.5), seed)
    else:
      metrics = model.adversarial_generator_step(seed)
  return {k: float(v) for k, v in metrics.items()}


def generator_weights(model: SeqGAN) -> list[np.ndarray]:
  return [v.numpy() for v in model.generator.weights]
