"""Token-id files and the tf.data pipelines that feed G and D."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf


class DataError(ValueError):
  """An input file is missing or malformed; the message says how to fix it."""


def read_token_file(path: str, vocab_size: int, seq_length: int) -> np.ndarray:
  """Reads one sequence of space-separated token ids per line.

  Raises:
    DataError: missing/empty file, a non-integer, a line of another length,
      or an id outside [0, vocab_size).

  Returns:
    [num_lines, seq_length] int32.
  """
  if not tf.io.gfile.exists(path):
    raise DataError(f"token file {path} does not exist; check --train_file "
                    "(or --data_dir).")
  rows = []
  with tf.io.gfile.GFile(path, "r") as f:
    for line_no, line in enumerate(f, start=1):
      if not line.strip():
        continue
      try:
        ids = [int(tok) for tok in line.split()]
      except ValueError as e:
        raise DataError(f"{path}:{line_no}: not a list of integer token ids "
                        f"({e}).") from e
      if len(ids) != seq_length:
        raise DataError(f"{path}:{line_no}: {len(ids)} ids, expected "
                        f"--seq_length={seq_length} on every line (the file is "
                        "ragged or the flag is wrong).")
      bad = [i for i in ids if not 0 <= i < vocab_size]
      if bad:
        raise DataError(f"{path}:{line_no}: token id {bad[0]} is outside "
                        f"[0, --vocab_size={vocab_size}); raise --vocab_size "
                        "or fix the file.")
      rows.append(ids)
  if not rows:
    raise DataError(f"token file {path} holds no sequences.")
  return np.asarray(rows, np.int32)


def write_token_file(path: str, tokens: np.ndarray) -> None:
  """Writes [n, T] ids, one line each, atomically (temp file + rename)."""
  tmp = path + ".tmp"
  with tf.io.gfile.GFile(tmp, "w") as f:
    f.write("".join(" ".join(map(str, row)) + "\n" for row in tokens))
  tf.io.gfile.rename(tmp, path, overwrite=True)


def mle_dataset(real: tf.Tensor, batch_size: int, seed: int) -> tf.data.Dataset:
  """One shuffled epoch of real sequences: [batch, T] int32 batches."""
  return (tf.data.Dataset.from_tensor_slices(real)
          .shuffle(real.shape[0], seed=seed, reshuffle_each_iteration=False)
          .batch(batch_size, drop_remainder=True)
          .prefetch(tf.data.AUTOTUNE))


def dis_dataset(real: tf.Tensor, fake: tf.Tensor, batch_size: int,
                seed: int) -> tf.data.Dataset:
  """One shuffled epoch of real (label 1) and generated (label 0) sequences.

  Yields:
    (tokens [batch, T] int32, labels [batch] int32).
  """
  tokens = tf.concat([real, fake], axis=0)
  labels = tf.concat([tf.ones([real.shape[0]], tf.int32),
                      tf.zeros([fake.shape[0]], tf.int32)], axis=0)
  return (tf.data.Dataset.from_tensor_slices((tokens, labels))
          .shuffle(tokens.shape[0], seed=seed, reshuffle_each_iteration=False)
          .batch(batch_size, drop_remainder=True)
          .prefetch(tf.data.AUTOTUNE))


def shared_file(data_dir: str, *parts: str) -> str:
  """A path inside --data_dir (e.g. ../shared/data/synthetic/...)."""
  return os.path.join(data_dir, *parts)
