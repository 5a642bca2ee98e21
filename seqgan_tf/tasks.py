"""What differs between experiments: real data, vocabulary, evaluation.

The trainer is shared; a task hands it the real sequences, the vocabulary size
and start token, and an `evaluate` that returns scalar metrics and decoded
samples. `synthetic` measures NLL-oracle; the text tasks measure BLEU against
the whole test set, Self-BLEU, NLL-test, and (nottingham) a pitch MSE.
"""

from __future__ import annotations

import math
import os
from typing import Protocol

import numpy as np
import tensorflow as tf
from absl import logging

from seqgan_tf import bleu, seeds
from seqgan_tf.config import Config, ConfigError
from seqgan_tf.data import (corpora, input_pipeline, oracle as oracle_lib,
                            tokenizer)
from seqgan_tf.modeling import (Generator, baselines, chunked_log_probs,
                                sampler, through_end)
from seqgan_tf.modeling.losses import mle_loss
from seqgan_tf.seeds import SeedPath

Metrics = dict[str, float]


class Task(Protocol):
  vocab_size: int
  start_token: int
  real: np.ndarray                      # [n, T] int32
  metric_names: tuple[str, ...]         # what HParams compares runs by
  final_evaluation_scale: float         # the final evaluation's cost / one's

  def evaluate(self, generator: Generator, seed: tf.Tensor, final: bool
               ) -> tuple[Metrics, list[str], dict[str, np.ndarray]]:
    """Scalar metrics of G, a few decoded samples, and (final) the scores of
    every sample, which significance tests compare between runs."""


def build(config: Config, workdir: str) -> Task:
  if config.task == "synthetic":
    return SyntheticTask(config, workdir)
  return TextTask(config, workdir)


def start_token(config: Config) -> int:
  """The id G reads first."""
  return config.start_token if config.task == "synthetic" else tokenizer.START_ID


def end_token(config: Config) -> int | None:
  """The id that ends a sequence; None when sequences always run to T."""
  return None if config.task == "synthetic" else tokenizer.END_ID


def serving_vocabulary(config: Config,
                       workdir: str) -> tuple[list[str], str, bool]:
  """(id -> token, how text splits, whether ids 0-3 are reserved) to export.

  The synthetic task's tokens are the bare ids, with no </s> or <unk>.
  """
  if config.task == "synthetic":
    return [str(i) for i in range(config.vocab_size)], "space", False
  vocab = tokenizer.Vocabulary.load(os.path.join(workdir, "vocab.txt"))
  return vocab.tokens, vocab.level, True


def bleu_reward(config: Config, task: Task) -> baselines.BleuReward:
  """PG-BLEU's reward: BLEU-n of a completion against the training set.

  Text hypotheses and references are what BLEU evaluation scores (the ids
  before </s>, no <pad>/<s>, and <unk> never matches); synthetic rows are
  scored whole.
  """
  if config.task == "synthetic":
    return baselines.BleuReward([list(r) for r in task.real], config.pg_bleu_n,
                              task.vocab_size, config.seq_length)
  references = [task.vocab.strip(row) for row in task.real]
  return baselines.BleuReward(
      references, config.pg_bleu_n, task.vocab_size, config.seq_length,
      end_token=tokenizer.END_ID, unknown=tokenizer.UNK_ID,
      drop_tokens=(tokenizer.PAD_ID, tokenizer.START_ID))


def distinct_fraction(samples: np.ndarray) -> float:
  """The share of distinct rows in [n, T] samples (1: no repeats)."""
  return len(np.unique(samples, axis=0)) / max(len(samples), 1)


class SyntheticTask:
  """The oracle experiment: real data are oracle samples.

  NLL-oracle (the oracle's NLL of G's samples) rewards a generator that
  collapses onto a few likely sequences; NLL-test (G's NLL of held-out oracle
  samples) punishes it, so the two together show quality and coverage.
  """

  def __init__(self, config: Config, workdir: str):
    self.config = config
    self.vocab_size = config.vocab_size
    self.start_token = config.start_token
    self.oracle = build_oracle(config)
    self.real = self._real_data(workdir)
    # Held-out oracle samples for NLL-test: drawn again at each start (the
    # draw is stateless, so always the same), never trained on.
    self.test = tf.function(sampler.sample_many, autograph=False)(
        self.oracle, config.nll_samples,
        seeds.stateless_seed(config.seed, SeedPath.DATA, 1))
    self._log_probs = tf.function(chunked_log_probs, autograph=False)
    self.metric_names = ("nll_oracle", "nll_test", "distinct")
    self.final_evaluation_scale = config.final_nll_samples / config.nll_samples
    self._sample_and_score = tf.function(self._sample_and_score_impl,
                                         autograph=False)

  def _sample_and_score_impl(self, generator, num, seed):
    """[num, T] samples of G and their [num] NLL under the oracle."""
    samples = sampler.sample_many(generator, num, seed)
    return samples, oracle_lib.nll(self.oracle, samples)

  def _real_data(self, workdir: str) -> np.ndarray:
    """--train_file, or --num_train oracle samples (saved in the workdir)."""
    config = self.config
    if config.train_file:
      return input_pipeline.read_token_file(
          config.train_file, config.vocab_size, config.seq_length)
    path = os.path.join(workdir, "real_data.txt")
    if tf.io.gfile.exists(path):           # written by an earlier start
      return input_pipeline.read_token_file(path, config.vocab_size,
                                            config.seq_length)
    seed = seeds.stateless_seed(config.seed, SeedPath.DATA)
    real = tf.function(sampler.sample_many, autograph=False)(
        self.oracle, config.num_train, seed).numpy()
    input_pipeline.write_token_file(path, real)
    return real

  def evaluate(self, generator, seed, final):
    num = self.config.final_nll_samples if final else self.config.nll_samples
    samples, per_seq = self._sample_and_score(generator, num, seed)
    metrics = {"nll_oracle": float(tf.reduce_mean(per_seq)),
               "nll_test": -float(tf.reduce_mean(
                   self._log_probs(generator, self.test))),
               "distinct": distinct_fraction(samples.numpy())}
    per_sample = {}
    if final:
      metrics["nll_oracle_stderr"] = float(tf.math.reduce_std(per_seq)
                                           / math.sqrt(num))
      per_sample["nll_oracle"] = per_seq.numpy()
    samples = sampler.sample(generator, self.config.num_text_samples,
                             sampler.fold_seed(seed, 1))
    return (metrics, [" ".join(map(str, row)) for row in samples.numpy()],
            per_sample)


def build_oracle(config: Config) -> Generator:
  """The paper's oracle (default), a random one, or one from a given file."""
  if config.oracle_params == "random":
    params = oracle_lib.random_params(config.vocab_size, config.gen_emb_dim,
                                      config.gen_hidden_dim, config.seed + 17)
  else:
    path = config.oracle_params or input_pipeline.locate(
        input_pipeline.PAPER_ORACLE, config.data_dir)
    params = oracle_lib.load_params(path, config.vocab_size,
                                    config.gen_emb_dim, config.gen_hidden_dim)
  return oracle_lib.build_oracle(params, config.seq_length, config.start_token)


class TextTask:
  """A real corpus: tokenised, with its vocabulary saved in the workdir."""

  def __init__(self, config: Config, workdir: str):
    self.config = config
    train_texts, test_texts = corpora.load_texts(
        config.task, config.data_dir, config.tfds_dir, config.train_file,
        config.test_file, config.text_unit)
    self.vocab = self._vocabulary(train_texts, workdir)
    self.vocab_size = len(self.vocab)
    self.start_token = tokenizer.START_ID
    self.real = self._encode(train_texts, "train")
    self.test = self._encode(test_texts, "test")
    references = [self.vocab.strip(row) for row in self.test]
    # <unk> n-grams never match (bleu.py): a vocabulary cut is not a match.
    self.bleu = bleu.Bleu(references, max_n=max(config.bleu_ngrams),
                          unknown=tokenizer.UNK_ID)
    self.metric_names = tuple(
        f"{kind}{n}" for kind in ("bleu", "self_bleu")
        for n in config.bleu_ngrams) + ("nll_test", "distinct")
    self.final_evaluation_scale = 1.0
    self._sample = tf.function(sampler.sample_many, autograph=False)
    self._log_probs = tf.function(chunked_log_probs, autograph=False)

  def _vocabulary(self, train_texts: list[str],
                  workdir: str) -> tokenizer.Vocabulary:
    """Built from the training split; must equal the one a run started with."""
    vocab = tokenizer.Vocabulary.build(
        train_texts, self.config.text_level_or_default, self.config.vocab_size)
    path = os.path.join(workdir, "vocab.txt")
    if tf.io.gfile.exists(path):
      saved = tokenizer.Vocabulary.load(path)
      if saved != vocab:
        raise ConfigError(
            f"{path} does not match the vocabulary of this corpus and flags "
            f"(saved: {len(saved)} {saved.level} tokens, now: {len(vocab)} "
            f"{vocab.level} tokens); the checkpoint was trained with it. Use "
            "the original corpus and flags, or a new --workdir.")
    else:
      vocab.save(path)
    return vocab

  def _encode(self, texts: list[str], split: str) -> np.ndarray:
    stats = tokenizer.EncodeStats()
    ids = self.vocab.encode(texts, self.config.seq_length, stats)
    logging.info(
        "%s %s: %d sequences, %d tokens, unknown rate %.2f%%, %d (%.1f%%) cut "
        "to --seq_length=%d; vocabulary %d (cap --vocab_size=%d).",
        self.config.task, split, stats.sequences, stats.tokens,
        100 * stats.unknown_rate, stats.cut,
        100 * stats.cut / max(stats.sequences, 1), self.config.seq_length,
        len(self.vocab), self.config.vocab_size)
    return ids

  def evaluate(self, generator, seed, final):
    samples = self._sample(generator, self.config.eval_samples, seed).numpy()
    metrics, scores = self.score(samples, final)
    metrics["nll_test"] = self.nll_test(generator)
    metrics["distinct"] = distinct_fraction(samples)
    texts = [self.vocab.decode(row)
             for row in samples[:self.config.num_text_samples]]
    return metrics, texts, scores if final else {}

  def score(self, samples: np.ndarray, final: bool = False
            ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """BLEU against the test set, Self-BLEU (and Nottingham's pitch MSE) of
    [n, T] token sequences, whoever wrote them.

    Returns:
      (metrics: each score's mean, with its standard error when `final`;
      scores: each metric's [n] per-sample values)
    """
    config = self.config
    hyps = [self.vocab.strip(row) for row in samples]
    scores = {f"bleu{n}": np.array(self.bleu.scores(hyps, n))
              for n in config.bleu_ngrams}
    if config.task == "nottingham":
      scores["pitch_mse"] = pitch_mse(self.vocab, samples, self.test)
    metrics = {k: float(v.mean()) for k, v in scores.items()}
    if final:
      for k, v in scores.items():
        metrics[f"{k}_stderr"] = float(v.std() / math.sqrt(len(v)))
    diverse = hyps[:config.self_bleu_samples]
    for n in config.bleu_ngrams:
      metrics[f"self_bleu{n}"] = bleu.self_bleu(diverse, n,
                                                unknown=tokenizer.UNK_ID)
    return metrics, scores

  def nll_test(self, generator: Generator) -> float:
    """G's mean per-token NLL on the test set, over tokens up to </s> (the
    MLE loss, as early stopping measures it on the validation split)."""
    test = tf.constant(self.test)
    return float(mle_loss(self._log_probs(generator, test),
                          through_end(test, tokenizer.END_ID)))


def pitch_mse(vocab: tokenizer.Vocabulary, samples: np.ndarray,
              test: np.ndarray) -> np.ndarray:
  """Nearest-neighbour pitch MSE (semitones^2) of melodies against the test set.

  Each sequence becomes one MIDI pitch per step: "p60" -> 60, and a rest (or
  any non-pitch token) holds the previous pitch (the first sounding one at the
  start). A melody's score is the smallest per-step mean squared difference
  to any test melody; the task reports their mean, and keeps each melody's
  score for the t-test.

  Args:
    samples: [melodies, time] generated token ids.
    test: [test melodies, time] token ids.

  Returns:
    [melodies] float64 scores.
  """
  def pitches(rows):
    out = np.zeros(rows.shape, np.float64)
    for r, row in enumerate(rows):
      values = [int(vocab.tokens[i][1:]) if vocab.tokens[i][:1] == "p"
                and vocab.tokens[i][1:].isdigit() else None for i in row]
      first = next((v for v in values if v is not None), 0)
      last = first
      for t, v in enumerate(values):
        last = v if v is not None else last
        out[r, t] = last
    return out
  gen, ref = pitches(samples), pitches(test)
  squared = ((gen ** 2).sum(1)[:, None] + (ref ** 2).sum(1)[None, :]
             - 2.0 * gen @ ref.T) / gen.shape[1]
  return np.maximum(squared.min(axis=1), 0.0)
