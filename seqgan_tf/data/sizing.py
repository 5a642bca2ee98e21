"""`--task=text` sized from the user's corpus, as the named tasks' defaults are.

Each value is chosen from the training split and logged with its reason; a
flag the user gives wins. The choices:
- `text_unit`: a line, or each sentence of a line where more than `MAX_CUT`
  of the lines are longer than `MAX_LENGTH` and fewer sentences are;
- `seq_length`: the shortest length (tokens + </s>) that cuts at most
  `MAX_CUT` of the training sequences;
- `vocab_size`: the fewest tokens (+ the 4 reserved ids) that cover
  `MIN_COVERAGE` of the training tokens;
- G's size: Texygen's 32/32 up to `SMALL_CORPUS` training tokens, else the
  64/64 of the Obama and poems tasks;
- the schedule: the named tasks' hour-sized one (D pre-training 3 x 1 epoch,
  15 adversarial iterations of 1 G step with 8 roll-outs), with as many MLE
  epochs as pass about `MLE_TOKENS` training tokens (between 5 and 30).
At start-up the run then times each kind of step on this machine and, where
that schedule would take more than `--time_budget_minutes` (60), cuts the MLE
epochs and adversarial iterations to fit (training/progress.py,
fit_to_budget); a given `--pretrain_gen_epochs` or `--adv_iterations` is kept.
"""

from __future__ import annotations

import collections
import math
from typing import Iterable, Sequence

from absl import logging

from seqgan_tf import config as config_lib
from seqgan_tf.config import Config
from seqgan_tf.data import corpora, tokenizer

MAX_CUT = 0.03          # share of training sequences cut at seq_length
MIN_COVERAGE = 0.97     # share of training tokens inside the vocabulary
MAX_LENGTH = 64         # longer sequences are cut, whatever their share
MAX_VOCAB = 20_000
SMALL_CORPUS = 300_000  # training tokens below which G is 32/32
MLE_TOKENS = 4_000_000  # training tokens the MLE phase passes over
MLE_EPOCHS = (5, 30)
SIZED = ("text_unit", "seq_length", "vocab_size", "gen_emb_dim", "gen_hidden_dim",
         "pretrain_gen_epochs")


def length_for(lengths: Sequence[int]) -> int:
  """The smallest T with at most MAX_CUT of `lengths` above it (<= MAX_LENGTH).

  lengths: each sequence's tokens plus its </s>.
  """
  ordered = sorted(lengths)
  keep = max(1, math.ceil((1.0 - MAX_CUT) * len(ordered)))
  return max(2, min(MAX_LENGTH, ordered[keep - 1]))


def vocab_for(counts: collections.Counter) -> int:
  """The fewest most-frequent tokens covering MIN_COVERAGE of all, + 4."""
  total = sum(counts.values())
  covered, size = 0, 0
  for size, count in enumerate(sorted(counts.values(), reverse=True), 1):
    covered += count
    if covered >= MIN_COVERAGE * total:
      break
  return min(MAX_VOCAB, size + len(tokenizer.RESERVED))


def train_texts(config: Config, unit: str) -> list[str]:
  """The training texts of the user's file, one per `unit`."""
  return corpora.user_texts(config.train_file, config.test_file, unit)[0]


def cut_share(lengths: Sequence[int], length: int) -> float:
  return sum(n > length for n in lengths) / len(lengths)


def unit_for(config: Config, choose: bool
             ) -> tuple[tuple[str, list[list[str]]], str]:
  """((unit, its training tokens), why): the configured unit, or (`choose`)
  each line's sentences when lines longer than MAX_LENGTH (paragraphs) are
  more than MAX_CUT of them and sentences fewer."""
  unit, level = config.text_unit, config.text_level_or_default
  texts = train_texts(config, unit)
  tokens = tokenizer.split_many(texts, level)
  line_cut = cut_share([len(t) + 1 for t in tokens], MAX_LENGTH)
  why = f"{line_cut:.1%} of the {unit}s are longer than {MAX_LENGTH} tokens"
  if not (choose and unit == "line" and line_cut > MAX_CUT):
    return (unit, tokens), why
  # The training lines' sentences are what --text_unit=sentence trains on
  # (user_texts holds out the same whole lines), so no second read.
  sentences = tokenizer.split_many(
      [s for line in texts for s in corpora.sentences(line)], level)
  sentence_cut = cut_share([len(t) + 1 for t in sentences], MAX_LENGTH)
  why = (f"{line_cut:.1%} of the lines and {sentence_cut:.1%} of their "
         f"sentences are longer than {MAX_LENGTH} tokens")
  return (("sentence", sentences) if sentence_cut < line_cut
          else (unit, tokens)), why


def size(config: Config, given: Iterable[str]) -> Config:
  """`config` with the fields in SIZED that are not in `given` set from the
  corpus; each choice logged with its reason."""
  given = set(given)
  chosen, reasons = {}, {}
  (chosen["text_unit"], tokens), reasons["text_unit"] = unit_for(
      config, choose="text_unit" not in given)
  lengths = [len(t) + 1 for t in tokens]
  counts = collections.Counter(t for row in tokens for t in row)
  num_tokens = sum(counts.values())
  length = length_for(lengths)
  chosen["seq_length"] = length
  cut = cut_share(lengths, length)
  reasons["seq_length"] = (f"cuts {cut:.1%} of {len(lengths)} training "
                           f"sequences (longest {max(lengths)})")
  vocab = vocab_for(counts)
  chosen["vocab_size"] = vocab
  inside = sum(sorted(counts.values(), reverse=True)[:vocab - 4])
  reasons["vocab_size"] = (f"covers {inside / num_tokens:.1%} of "
                           f"{num_tokens} training tokens ({len(counts)} "
                           "distinct)")
  width = 32 if num_tokens < SMALL_CORPUS else 64
  chosen["gen_emb_dim"] = chosen["gen_hidden_dim"] = width
  reasons["gen_emb_dim"] = reasons["gen_hidden_dim"] = (
      f"{num_tokens} training tokens ({'<' if width == 32 else '>='} "
      f"{SMALL_CORPUS})")
  epochs = min(max(round(MLE_TOKENS / num_tokens), MLE_EPOCHS[0]),
               MLE_EPOCHS[1])
  chosen["pretrain_gen_epochs"] = epochs
  reasons["pretrain_gen_epochs"] = (f"about {MLE_TOKENS:,} tokens of MLE over "
                                    f"{num_tokens} a epoch, within "
                                    f"{MLE_EPOCHS[0]}-{MLE_EPOCHS[1]}")
  changes = {}
  for name in SIZED:
    if name in given:
      logging.info("--task=text: --%s=%s as given (sized from the corpus it "
                   "would be %s: %s).", name, getattr(config, name),
                   chosen[name], reasons[name])
    else:
      changes[name] = chosen[name]
      logging.info("--task=text: --%s=%s from the corpus: %s.", name,
                   chosen[name], reasons[name])
  return config_lib.replace(config, **changes)
