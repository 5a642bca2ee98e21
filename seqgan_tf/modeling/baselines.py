"""The baselines of the paper's Table 1 that differ from SeqGAN in one part.

- Scheduled sampling (Bengio et al. 2015): MLE where each input token is the
  ground truth with probability w and G's own sample otherwise; w falls by
  --ss_decay before every epoch. This is the per-token mixing the paper
  describes; the authors' 2016 code flipped one coin for the whole run (read
  from their code).
- PG-BLEU: SeqGAN's policy gradient and roll-out with D replaced by the BLEU
  of each completion against the training set (`BleuReward`), computed in the
  graph so that it runs inside the roll-out's tf.function.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import tensorflow as tf

from seqgan_tf import bleu
from seqgan_tf.modeling import Generator, sampler, through_end
from seqgan_tf.training import distribute

def ss_truth_rate(epoch: int, decay: float) -> float:
  """w of MLE epoch `epoch` (0-based): 1 - decay * (epoch + 1), at least 0.

  The authors' code lowers w before every epoch, so the first epoch already
  runs at 1 - decay (0.998 with the paper's 0.002).
  """
  return max(0.0, 1.0 - decay * (epoch + 1))


def scheduled_sampling_log_probs(generator: Generator, tokens: tf.Tensor,
                                 truth_rate: tf.Tensor, seed: tf.Tensor,
                                 rows: tuple[tf.Tensor, int] | None = None
                                 ) -> tuple[tf.Tensor, tf.Tensor]:
  """log G(y_t | mixed history) of real sequences under scheduled sampling.

  Position t's input is y_{t-1} with probability `truth_rate`, else a token
  drawn from G's own prediction at t-1 (no gradient flows through the draw).
  The loss is still on the real token y_t.

  Args:
    generator: G.
    tokens: [batch, T] real sequences.
    truth_rate: scalar w in [0, 1].
    seed: [2] stateless seed (coins and draws).
    rows: (first row, global batch) for one replica's share of a batch.

  Returns:
    log_probs [batch, T] of the real tokens, and inputs [batch, T], the token
    fed at each position (inputs[:, 0] is the start token).
  """
  tokens = tf.cast(tokens, tf.int32)
  batch, length = tokens.shape
  state = generator.initial_state(batch)
  previous = tf.fill([batch], tf.cast(generator.start_token, tf.int32))
  log_probs, inputs = [], []
  for t in range(length):  # static T: an unrolled graph
    inputs.append(previous)
    logits, state = generator.step(previous, state)
    log_probs.append(tf.gather(logits, tokens[:, t], batch_dims=1)
                     - tf.reduce_logsumexp(logits, axis=-1))
    uniforms = distribute.uniform([batch, 3], sampler.fold_seed(seed, t), 0,
                                  rows)
    own = sampler.draw_categorical(tf.stop_gradient(logits), uniforms[:, :2])
    previous = tf.where(uniforms[:, 2] < truth_rate, tokens[:, t], own)
  return tf.stack(log_probs, 1), tf.stack(inputs, 1)


class BleuReward:
  """BLEU-n of [rows, T] token sequences against fixed references, in TF.

  Equal to `bleu.Bleu(references, n, unknown).sentence(hyp, n)` (nltk's
  sentence BLEU with smoothing method1) for each row, where a row's hypothesis
  is its tokens before `end_token` (all T without one), less `drop_tokens`. The references'
  clipping counts are built once, in Python, into one sorted key tensor per
  order (`max_ref`); an n-gram's key is its ids in base vocab_size, exact in int64 while
  vocab_size**n < 2**63.

  Args:
    references: real sequences, each a list of ids (no end token).
    max_n: the BLEU order (the authors' PG-BLEU: 3).
    vocab_size: ids are in [0, vocab_size).
    seq_length: T of the rows scored.
    end_token: the id that ends a row (None: rows run to T).
    unknown: the <unk> id; n-grams holding it never match (None: none).
    drop_tokens: ids left out of a hypothesis (text: <pad> and <s>).
  """

  def __init__(self, references: Sequence[Sequence[int]], max_n: int,
               vocab_size: int, seq_length: int, end_token: int | None = None,
               unknown: int | None = None,
               drop_tokens: Sequence[int] = ()):
    if vocab_size ** max_n >= 2 ** 63:
      raise ValueError(f"BLEU-{max_n} keys of a {vocab_size}-token vocabulary "
                       "overflow int64; use a lower order")
    self.max_n, self.vocab_size = max_n, vocab_size
    self.end_token, self.unknown = end_token, unknown
    self.drop_tokens = tuple(drop_tokens)
    counts = bleu.Bleu(references, max_n, unknown).max_counts
    # One sorted key tensor per order, searched in `max_ref`: unlike a
    # tf.lookup hash table (LookupTableFindV2), it compiles under XLA, so
    # PG-BLEU's G step can be jit-compiled like SeqGAN's.
    self.keys, self.values = [], []
    for n in range(1, max_n + 1):
      keys = np.array([self._key(g) for g in counts[n]], np.int64)
      values = np.array(list(counts[n].values()), np.float32)
      order = np.argsort(keys)
      # A sentinel no key reaches keeps every lookup index in range.
      self.keys.append(tf.constant(
          np.append(keys[order], np.iinfo(np.int64).max)))
      self.values.append(tf.constant(np.append(values[order], 0.0),
                                     tf.float32))
    # nltk's closest reference length for every hypothesis length 0..T.
    lengths = sorted({len(r) for r in references})
    self.closest = tf.constant([bleu._closest(lengths, h)  # pylint: disable=protected-access
                                for h in range(seq_length + 1)], tf.float32)

  def _key(self, gram: Sequence[int]) -> int:
    key = 0
    for token in gram:
      key = key * self.vocab_size + int(token)
    return key

  def max_ref(self, n: int, keys: tf.Tensor) -> tf.Tensor:
    """The references' largest count of each n-gram key (0 if none has it).

    A binary search written as a fixed number of halving steps, each one
    gather: it runs the same in graph mode and under XLA, whose own lowering
    of tf.searchsorted compares every query with every key (hundreds of GB
    for one roll-out batch against a training set's trigrams).
    """
    table = self.keys[n - 1]
    size = table.shape[0]
    flat = tf.reshape(keys, [-1])
    # The largest i with table[i] <= key (0 when every entry is larger).
    index = tf.zeros_like(flat, tf.int32)
    step = 1 << (size.bit_length() - 1)
    while step:
      probe = tf.minimum(index + step, size - 1)
      index = tf.where(tf.gather(table, probe) <= flat, probe, index)
      step >>= 1
    found = tf.equal(tf.gather(table, index), flat)
    return tf.reshape(
        tf.where(found, tf.gather(self.values[n - 1], index), 0.0),
        tf.shape(keys))

  def __call__(self, tokens: tf.Tensor) -> tf.Tensor:
    """[rows, T] ids -> [rows] float32 BLEU-max_n."""
    tokens = tf.cast(tokens, tf.int64)
    length = tokens.shape[1]
    # The hypothesis: the ids before the end token, less any dropped ids
    # (what tokenizer.Vocabulary.strip keeps), moved to the front of the row.
    keep = tf.ones_like(tokens, tf.bool)
    if self.end_token is not None:
      keep = tf.cast(through_end(tokens, self.end_token), tf.bool) & tf.not_equal(
          tokens, self.end_token)
    for dropped in self.drop_tokens:
      keep &= tf.not_equal(tokens, dropped)
    order = tf.argsort(tf.cast(~keep, tf.int32), axis=1, stable=True)
    tokens = tf.gather(tokens, order, batch_dims=1)
    hyp_len = tf.reduce_sum(tf.cast(keep, tf.int32), 1)
    unknown = (None if self.unknown is None
               else tf.equal(tokens, self.unknown))
    log_precision = 0.0
    for n in range(1, self.max_n + 1):
      if n > length:            # no n-grams: nltk's precision is EPSILON / 1
        log_precision += math.log(bleu.EPSILON) / self.max_n
        continue
      width = length - n + 1
      key = tf.zeros_like(tokens[:, :width])
      for j in range(n):
        key = key * self.vocab_size + tokens[:, j:j + width]
      # The n-gram at position i is in the hypothesis when i + n <= its length.
      valid = tf.range(width)[None, :] + n <= hyp_len[:, None]
      matchable = valid
      if unknown is not None:
        for j in range(n):
          matchable &= ~unknown[:, j:j + width]
      valid_f = tf.cast(valid, tf.float32)
      max_ref = tf.where(matchable, self.max_ref(n, key), 0.0)
      # Each occurrence of a gram adds min(count, max_ref) / count, so the
      # occurrences of a gram add up to its clipped count.
      same = tf.cast(tf.equal(key[:, :, None], key[:, None, :]), tf.float32)
      count = tf.einsum("bij,bj->bi", same, valid_f)
      matched = tf.reduce_sum(
          valid_f * tf.minimum(count, max_ref) / tf.maximum(count, 1.0), 1)
      total = tf.maximum(tf.reduce_sum(valid_f, 1), 1.0)
      precision = tf.where(matched > 0, matched, bleu.EPSILON) / total
      log_precision += tf.math.log(precision) / self.max_n
      if n == 1:
        unigram_matched = matched
    hyp = tf.cast(hyp_len, tf.float32)
    ref = tf.gather(self.closest, hyp_len)
    penalty = tf.where(hyp > ref, 1.0,
                       tf.exp(1.0 - ref / tf.maximum(hyp, 1.0)))
    # nltk: no unigram match (an empty hypothesis included) scores 0.
    return tf.where(unigram_matched > 0, penalty * tf.exp(log_precision), 0.0)


def batch_mean_baseline(reward: tf.Tensor, mask: tf.Tensor | None,
                        sum_over_batch=lambda x: x) -> tf.Tensor:
  """Q minus its mean over the batch at each position (over live rows).

  Args:
    reward: [batch, T] Q values.
    mask: [batch, T] 1 through each row's end (None: all positions live).
    sum_over_batch: adds a [1, T] sum over the other replicas' rows (the
      identity on one device), so the baseline is the global batch's mean.
  """
  live = tf.ones_like(reward) if mask is None else mask
  mean = (sum_over_batch(tf.reduce_sum(reward * live, 0, keepdims=True))
          / tf.maximum(sum_over_batch(tf.reduce_sum(live, 0, keepdims=True)),
                       1.0))
  return (reward - mean) * live
