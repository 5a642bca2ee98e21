"""Word- or character-level vocabulary with reserved ids, saved with the model.

Every sequence is `tokens + </s>`, padded with <pad> (or cut) to the fixed
length the GAN works with; generated text stops at the first </s>.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf

from seqgan_tf.training import workdir

PAD, START, END, UNK = "<pad>", "<s>", "</s>", "<unk>"
RESERVED = (PAD, START, END, UNK)            # ids 0, 1, 2, 3
PAD_ID, START_ID, END_ID, UNK_ID = range(4)

# Word level: lower-case, then every punctuation mark or symbol except the
# apostrophe becomes a token of its own ("don't stop." -> don't stop .).
# RE2's \pL/\pN keep accented and non-Latin letters inside words.
_PUNCTUATION = r"([^\pL\pN\s'])"


class VocabularyError(ValueError):
  """A vocabulary file is missing, malformed, or does not fit the run."""


def split_tf(texts: tf.Tensor, level: str) -> tf.RaggedTensor:
  """[batch] strings -> [batch, (tokens)] strings, in TensorFlow ops.

  The one tokeniser: training calls it eagerly, the exported SavedModel
  carries it in its graph, so serving splits text exactly as training did.
  level: 'word', 'char' (every non-space character) or 'space'
  (pre-tokenised text).
  """
  if level == "word":
    texts = tf.strings.regex_replace(
        tf.strings.lower(texts, encoding="utf-8"), _PUNCTUATION, r" \1 ")
    return tf.strings.split(texts)
  if level == "char":
    chars = tf.strings.unicode_split(texts, "UTF-8")
    return tf.ragged.boolean_mask(
        chars, tf.strings.regex_full_match(chars, r"\S"))
  if level == "space":
    return tf.strings.split(texts)
  raise ValueError(f"unknown tokenisation level {level!r}")


def split_many(texts: Sequence[str], level: str) -> list[list[str]]:
  """Python lists through `split_tf` (batched: fast on a whole corpus)."""
  if not texts:
    return []
  ragged = split_tf(tf.constant(list(texts)), level)
  return [[t.decode("utf-8") for t in row] for row in ragged.to_list()]


def split(text: str, level: str) -> list[str]:
  return split_many([text], level)[0]


@dataclasses.dataclass
class EncodeStats:
  sequences: int = 0
  tokens: int = 0
  unknown: int = 0
  cut: int = 0                      # sequences longer than the length

  @property
  def unknown_rate(self) -> float:
    return self.unknown / max(self.tokens, 1)


class Vocabulary:
  """Token <-> id. Ids 0-3 are <pad>, <s>, </s>, <unk>."""

  def __init__(self, tokens: Sequence[str], level: str):
    if tuple(tokens[:4]) != RESERVED:
      raise VocabularyError(f"a vocabulary starts with {RESERVED}")
    if len(set(tokens)) != len(tokens):
      raise VocabularyError("a vocabulary lists each token once")
    self.tokens = list(tokens)
    self.level = level
    self.ids = {t: i for i, t in enumerate(self.tokens)}

  def __len__(self) -> int:
    return len(self.tokens)

  def __eq__(self, other) -> bool:
    return (isinstance(other, Vocabulary) and self.tokens == other.tokens
            and self.level == other.level)

  @classmethod
  def build(cls, texts: Iterable[str], level: str,
            max_size: int) -> "Vocabulary":
    """The `max_size - 4` most frequent tokens (ties: alphabetical)."""
    counts = collections.Counter(
        t for tokens in split_many(list(texts), level) for t in tokens)
    for token in RESERVED:
      counts.pop(token, None)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return cls(list(RESERVED) + [t for t, _ in ranked[:max_size - 4]], level)

  def encode(self, texts: Iterable[str], length: int,
             stats: EncodeStats | None = None) -> np.ndarray:
    """Texts -> [n, length] int32: ids, </s>, then <pad>; longer ones cut."""
    stats = stats if stats is not None else EncodeStats()
    rows = []
    for tokens in split_many(list(texts), self.level):
      ids = [self.ids.get(t, UNK_ID) for t in tokens]
      stats.sequences += 1
      stats.tokens += len(ids)
      stats.unknown += ids.count(UNK_ID)
      if len(ids) + 1 > length:
        stats.cut += 1
        ids = ids[:length - 1]
      ids.append(END_ID)
      rows.append(ids + [PAD_ID] * (length - len(ids)))
    return np.asarray(rows, np.int32).reshape(-1, length)

  def strip(self, ids: Sequence[int]) -> list[int]:
    """The ids before the first </s>, without <pad>/<s> (what BLEU scores)."""
    out = []
    for i in map(int, ids):
      if i == END_ID:
        break
      if i not in (PAD_ID, START_ID):
        out.append(i)
    return out

  def decode(self, ids: Sequence[int]) -> str:
    """Ids -> text, stopping at the first </s>."""
    words = [self.tokens[i] if i < len(self.tokens) else UNK
             for i in self.strip(ids)]
    return ("" if self.level == "char" else " ").join(words)

  def save(self, path: str) -> None:
    """One token per line after a `#level=...` header; written atomically."""
    workdir.write_atomic(path, f"#level={self.level}\n"
                         + "".join(t + "\n" for t in self.tokens))

  @classmethod
  def load(cls, path: str) -> "Vocabulary":
    if not tf.io.gfile.exists(path):
      raise VocabularyError(f"vocabulary file {path} does not exist")
    fix = ("It is the vocabulary the run's checkpoints were trained with: "
           "restore it from a backup, or start in a new --workdir.")
    try:
      with tf.io.gfile.GFile(path) as f:
        lines = f.read().split("\n")
    except (UnicodeDecodeError, tf.errors.OpError) as e:
      raise VocabularyError(f"{path} is unreadable ({e}). {fix}") from e
    if not lines or not lines[0].startswith("#level="):
      raise VocabularyError(f"{path} is not a vocabulary file (no #level= "
                            f"header). {fix}")
    try:
      return cls([t for t in lines[1:] if t], lines[0][len("#level="):])
    except VocabularyError as e:
      raise VocabularyError(f"{path} is damaged: {e}. {fix}") from e
