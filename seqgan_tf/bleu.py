"""BLEU as the paper computes it, exact and fast, and Self-BLEU.

Every hypothesis is scored against the whole reference set (the paper's
protocol, confirmed by its first author in LantaoYu/SeqGAN#12) with uniform
weights and nltk's smoothing method1 (epsilon 0.1 for an n-gram order with no
match, as Texygen uses); scores are averaged over hypotheses. The numbers equal
`nltk.translate.bleu_score.sentence_bleu(references, hyp, weights,
smoothing_function=SmoothingFunction().method1)`, but the references' clipped
n-gram counts (the max count of each n-gram over all references) are built
once, so each hypothesis costs O(its length), not O(number of references).

`unknown` (the <unk> id): an n-gram holding it never matches. Two unknown
words are not the same word, so counting `<unk> <unk>` as a match would
reward a vocabulary cut, not the generator. It still counts in the
denominator, as any unmatched n-gram does. This equals nltk with every <unk>
of the references and of the hypothesis replaced by two ids seen nowhere else.
"""

from __future__ import annotations

import bisect
import collections
import math
from typing import Sequence

Tokens = Sequence[int]
EPSILON = 0.1  # nltk SmoothingFunction().method1


def _ngrams(tokens: Tokens, n: int) -> collections.Counter:
  return collections.Counter(tuple(tokens[i:i + n])
                             for i in range(len(tokens) - n + 1))


def _matchable(tokens: Tokens, n: int, unknown: int | None):
  """The n-gram counts of `tokens` that may match (none holding `unknown`)."""
  counts = _ngrams(tokens, n)
  if unknown is not None:
    for g in [g for g in counts if unknown in g]:
      del counts[g]
  return counts


def _score(hyp: Tokens, max_n: int, max_count, closest_length) -> float:
  """nltk's corpus_bleu for one hypothesis, given the clipping counts."""
  log_precision = 0.0
  for n in range(1, max_n + 1):
    counts = _ngrams(hyp, n)
    matched = sum(min(c, max_count(n, g)) for g, c in counts.items())
    total = max(1, sum(counts.values()))
    if n == 1 and matched == 0:
      return 0.0                       # nltk: no unigram match scores 0
    precision = matched / total if matched else EPSILON / total
    log_precision += math.log(precision) / max_n
  ref_len, hyp_len = closest_length(len(hyp)), len(hyp)
  penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
  return penalty * math.exp(log_precision)


def _closest(lengths: list[int], hyp_len: int, skip: int | None = None) -> int:
  """nltk's closest reference length (ties: the shorter) among sorted unique
  `lengths`, ignoring `skip`."""
  k = bisect.bisect_left(lengths, hyp_len)
  candidates = []
  for step, start in ((-1, k - 1), (1, k)):
    i = start
    while 0 <= i < len(lengths) and lengths[i] == skip:
      i += step
    if 0 <= i < len(lengths):
      candidates.append(lengths[i])
  return min(candidates, key=lambda r: (abs(r - hyp_len), r))


class Bleu:
  """BLEU-n of hypotheses against one fixed reference set."""

  def __init__(self, references: Sequence[Tokens], max_n: int = 4,
               unknown: int | None = None):
    if not references:
      raise ValueError("BLEU needs at least one reference")
    self.max_n = max_n
    self.max_counts = [dict() for _ in range(max_n + 1)]
    for ref in references:
      for n in range(1, max_n + 1):
        table = self.max_counts[n]
        for g, c in _matchable(ref, n, unknown).items():
          if c > table.get(g, 0):
            table[g] = c
    self.lengths = sorted({len(r) for r in references})

  def sentence(self, hyp: Tokens, n: int) -> float:
    """BLEU-n of one hypothesis (n <= max_n)."""
    return _score(hyp, n, lambda k, g: self.max_counts[k].get(g, 0),
                  lambda h: _closest(self.lengths, h))

  def scores(self, hyps: Sequence[Tokens], n: int) -> list[float]:
    """BLEU-n of each hypothesis (what the paper averages; its t-test's data)."""
    return [self.sentence(h, n) for h in hyps]

  def mean(self, hyps: Sequence[Tokens], n: int) -> float:
    return sum(self.scores(hyps, n)) / max(len(hyps), 1)


def self_bleu(samples: Sequence[Tokens], n: int,
              unknown: int | None = None) -> float:
  """Mean BLEU-n of each sample against all the other samples (diversity:
  lower is more diverse). Keeps each n-gram's two largest counts so that a
  sample's own count can be left out in O(1)."""
  if len(samples) < 2:
    raise ValueError("Self-BLEU needs at least two samples")
  top = [dict() for _ in range(n + 1)]   # ngram -> (best, owner, second)
  for idx, sample in enumerate(samples):
    for k in range(1, n + 1):
      table = top[k]
      for g, c in _matchable(sample, k, unknown).items():
        best, owner, second = table.get(g, (0, -1, 0))
        if c > best:
          table[g] = (c, idx, best)
        elif c > second:
          table[g] = (best, owner, c)
  length_count = collections.Counter(len(s) for s in samples)
  lengths = sorted(length_count)

  total = 0.0
  for idx, sample in enumerate(samples):
    def max_count(k, g, idx=idx):
      best, owner, second = top[k].get(g, (0, -1, 0))
      return second if owner == idx else best
    own = len(sample)
    skip = own if length_count[own] == 1 else None
    total += _score(sample, n, max_count,
                    lambda h, skip=skip: _closest(lengths, h, skip))
  return total / len(samples)
