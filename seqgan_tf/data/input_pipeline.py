"""Corpus files (local or fetched), token-id files, and the tf.data pipelines."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import keras
import numpy as np
import tensorflow as tf

from seqgan_tf.training import workdir


class DataError(ValueError):
  """An input file is missing or malformed; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
  """A public file: where it sits under --data_dir, its URL and its sha256."""
  relative_path: str
  url: str
  sha256: str


# The authors' oracle parameters (LantaoYu/SeqGAN master e2b52fb, save/).
PAPER_ORACLE = RemoteFile(
    "synthetic/target_params_py3.pkl",
    "https://raw.githubusercontent.com/LantaoYu/SeqGAN/"
    "e2b52fb6309851b14765290e8a972ccac09f1bec/save/target_params_py3.pkl",
    "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a")


def sha256_of(path: str) -> str:
  digest = hashlib.sha256()
  with tf.io.gfile.GFile(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def locate(remote: RemoteFile, data_dir: str) -> str:
  """The local path of `remote`: from --data_dir, else downloaded and cached.

  Either way the file's sha256 is checked.

  Raises:
    DataError: a local copy with another checksum, or no local copy and the
      download failed (offline machines: pass --data_dir).
  """
  if data_dir:
    local = os.path.join(data_dir, remote.relative_path)
    if tf.io.gfile.exists(local):
      actual = sha256_of(local)
      if actual != remote.sha256:
        raise DataError(f"{local} has sha256 {actual}, expected "
                        f"{remote.sha256}: it is not the published file. "
                        "Replace it, or point --data_dir elsewhere.")
      return local
  try:
    return keras.utils.get_file(
        fname=os.path.basename(remote.relative_path), origin=remote.url,
        file_hash=remote.sha256, hash_algorithm="sha256",
        cache_subdir=os.path.join("seqgan_tf",
                                  os.path.dirname(remote.relative_path)))
  except Exception as e:  # network errors come in many types
    where = f"not under --data_dir={data_dir}" if data_dir else "no --data_dir"
    raise DataError(f"{remote.relative_path}: {where}, and downloading "
                    f"{remote.url} failed ({e}). On an offline machine pass "
                    "--data_dir=DIR holding it (e.g. ../shared/data).") from e


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
  workdir.write_atomic(
      path, "".join(" ".join(map(str, row)) + "\n" for row in tokens))


def without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """`dataset` with tf.data's autotuning off and a fixed 2-batch prefetch.

  The batches here are slices of tensors in memory: there is nothing to tune,
  and in TF 2.21 autotuning costs whole seconds. Deleting an iterator waits
  for the autotune thread's current sleep, which doubles from 10 ms, so an
  epoch could end long after its last step (bench/README.md).
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return dataset.prefetch(2).with_options(options)


def mle_dataset(real: tf.Tensor, batch_size: int, seed: int) -> tf.data.Dataset:
  """One shuffled epoch of real sequences: [batch, T] int32 batches."""
  return without_autotune(
      tf.data.Dataset.from_tensor_slices(real)
      .shuffle(real.shape[0], seed=seed, reshuffle_each_iteration=False)
      .batch(batch_size, drop_remainder=True))


def dis_dataset(real: tf.Tensor, fake: tf.Tensor, batch_size: int,
                seed: int) -> tf.data.Dataset:
  """One shuffled epoch of real (label 1) and generated (label 0) sequences.

  Yields:
    (tokens [batch, T] int32, labels [batch] int32).
  """
  tokens = tf.concat([real, fake], axis=0)
  labels = tf.concat([tf.ones([real.shape[0]], tf.int32),
                      tf.zeros([fake.shape[0]], tf.int32)], axis=0)
  return without_autotune(
      tf.data.Dataset.from_tensor_slices((tokens, labels))
      .shuffle(tokens.shape[0], seed=seed, reshuffle_each_iteration=False)
      .batch(batch_size, drop_remainder=True))
