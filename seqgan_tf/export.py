"""SavedModel export of the generator, in the layout TF Serving watches.

`WORKDIR/export/<model_name>/<version>/` holds `saved_model.pb` and
`variables/`. A version is written to a hidden temporary folder and renamed
into place, so a crash leaves no half-written version and an existing one is
never replaced. Signatures (all batched on the first dimension):

  serving_default  seed [b] int64, temperature [b] float32
                   -> tokens [b, T] int32, lengths [b] int32, text [b] string
  complete         prefix [b] string, seed [b] int64, temperature [b] float32
                   -> tokens, lengths, text (prefix + continuation), completion,
                      prefix_unknown [b] int32 (prefix words read as <unk>)
  score            text [b] string
                   -> log_prob [b] float32, token_log_probs [b, T] float32,
                      lengths [b] int32

Text is split by the same TF ops as training (`tokenizer.split_tf`), and the
vocabulary travels inside the SavedModel as a lookup table.
"""

from __future__ import annotations

import os
import shutil
from typing import Sequence

import tensorflow as tf
from absl import logging

from seqgan_tf.data import tokenizer
from seqgan_tf.modeling import Generator, sampler

SIGNATURES = ("serving_default", "complete", "score")


class ExportError(RuntimeError):
  """The export directory cannot be written or read as a SavedModel."""


class GeneratorServing(tf.Module):
  """The generator with text in and text out.

  Args:
    generator: a built Generator.
    tokens: the vocabulary, id -> token.
    level: how text is split ('word', 'char', 'space').
    reserved: whether ids 0-3 are <pad>, <s>, </s>, <unk> (text tasks); the
      synthetic task's vocabulary is bare ids, with no end or unknown token.
  """

  def __init__(self, generator: Generator, tokens: Sequence[str], level: str,
               reserved: bool):
    super().__init__(name="generator_serving")
    # Track G's underlying tf.Variables, not the Keras model or its
    # keras.Variable wrappers: saved through those, each variable is stored
    # twice and the session-based loader (saved_model_cli run, TF Serving)
    # fails with "Could not find variable lstm/kernel" (keras-team/keras
    # #19274, #20095; the fix proposed in #23563 unwraps them the same way).
    self._setattr_tracking = False
    self.generator = generator
    self._setattr_tracking = True
    self.generator_variables = [v.value for v in generator.variables]
    self.level = level
    self.reserved = reserved
    self.length = generator.seq_length
    self.vocab = tf.constant(list(tokens))
    self.table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            self.vocab, tf.range(len(tokens), dtype=tf.int32)),
        default_value=tokenizer.UNK_ID if reserved else -1)

  # ---------------------------------------------------------------- helpers
  def _keep(self, ids: tf.Tensor) -> tf.Tensor:
    """[b, T] bool: tokens that are text (before </s>, not padding)."""
    if not self.reserved:
      return tf.ones_like(ids, tf.bool)
    before_end = tf.cumsum(tf.cast(ids == tokenizer.END_ID, tf.int32),
                           axis=1) == 0
    return before_end & (ids != tokenizer.PAD_ID) & (ids != tokenizer.START_ID)

  def _join(self, ids: tf.Tensor, keep: tf.Tensor) -> tf.Tensor:
    """[b, T] ids and a [b, T] mask -> [b] text of the kept tokens."""
    words = tf.ragged.boolean_mask(tf.gather(self.vocab, ids), keep)
    return tf.strings.reduce_join(
        words, axis=1, separator="" if self.level == "char" else " ")

  def _decode(self, ids: tf.Tensor) -> dict[str, tf.Tensor]:
    keep = self._keep(ids)
    return {"tokens": ids,
            "lengths": tf.reduce_sum(tf.cast(keep, tf.int32), axis=1),
            "text": self._join(ids, keep)}

  def _encode(self, text: tf.Tensor) -> tf.RaggedTensor:
    ids = self.table.lookup(tokenizer.split_tf(text, self.level))
    tf.debugging.assert_non_negative(
        ids.flat_values, message="text holds a token outside the vocabulary "
        "(this model's vocabulary has no <unk>)")
    return ids

  def _check_batch(self, seed, temperature):
    tf.debugging.assert_equal(
        tf.shape(seed), tf.shape(temperature),
        message="seed and temperature must have one entry per row (a ragged "
        "batch was given)")
    tf.debugging.assert_positive(temperature,
                                 message="temperature must be positive")

  # ---------------------------------------------------------------- signatures
  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.int64, name="seed"),
      tf.TensorSpec([None], tf.float32, name="temperature")],
               autograph=False)
  def sample(self, seed, temperature):
    """Fresh sequences, one per row: a row's seed fixes its tokens."""
    self._check_batch(seed, temperature)
    return self._decode(sampler.sample_rows(self.generator, seed, temperature))

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name="prefix"),
      tf.TensorSpec([None], tf.int64, name="seed"),
      tf.TensorSpec([None], tf.float32, name="temperature")],
               autograph=False)
  def complete(self, prefix, seed, temperature):
    """Continues each row's prefix text to the model's length."""
    self._check_batch(seed, temperature)
    tf.debugging.assert_equal(tf.shape(prefix), tf.shape(seed), message=(
        "prefix, seed and temperature must have one entry per row"))
    ids = self._encode(prefix)
    length = tf.cast(ids.row_lengths(), tf.int32)
    tf.debugging.assert_less(
        length, self.length, message=f"a prefix is too long: this model "
        f"generates {self.length} tokens, so a prefix has at most "
        f"{self.length - 1}")
    padded = ids.to_tensor(default_value=0, shape=[None, self.length])
    out = self._decode(sampler.sample_rows(self.generator, seed, temperature,
                                           padded, length))
    generated = tf.range(self.length)[None] >= length[:, None]
    out["completion"] = self._join(out["tokens"],
                                   self._keep(out["tokens"]) & generated)
    # Words outside the vocabulary are read as <unk>; say how many.
    out["prefix_unknown"] = tf.reduce_sum(
        tf.cast(ids == tokenizer.UNK_ID, tf.int32), axis=1)
    return out

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")],
               autograph=False)
  def score(self, text):
    """log G(text): the sum and the per-token values (text, then </s>)."""
    ids = self._encode(text)
    if self.reserved:
      ends = tf.fill([ids.nrows(), 1], tokenizer.END_ID)
      ids = tf.concat([ids, tf.RaggedTensor.from_tensor(ends)], axis=1)
    length = tf.cast(ids.row_lengths(), tf.int32)
    tf.debugging.assert_less_equal(
        length, self.length, message=f"a text is too long: this model scores "
        f"at most {self.length} tokens" + (" including </s>" if self.reserved
                                            else ""))
    padded = ids.to_tensor(default_value=0, shape=[None, self.length])
    mask = tf.sequence_mask(length, self.length, dtype=tf.float32)
    token_log_probs = self.generator.log_probs(padded, use_xla=False) * mask
    return {"log_prob": tf.reduce_sum(token_log_probs, axis=1),
            "token_log_probs": token_log_probs, "lengths": length}


def versions(model_dir: str) -> list[int]:
  """The numbered version folders of a model folder (none if it is absent)."""
  if not tf.io.gfile.isdir(model_dir):
    return []
  return sorted(int(d.rstrip("/")) for d in tf.io.gfile.listdir(model_dir)
                if d.rstrip("/").isdigit())


def export(serving: GeneratorServing, export_base: str,
           model_name: str) -> str:
  """Writes a new version; returns its directory.

  The SavedModel goes to `<base>/<name>/.tmp-<version>-<pid>` first and is
  renamed to `<base>/<name>/<version>` when complete.
  """
  model_dir = os.path.join(export_base, model_name)
  tf.io.gfile.makedirs(model_dir)
  version = max(versions(model_dir), default=0) + 1
  final = os.path.join(model_dir, str(version))
  tmp = os.path.join(model_dir, f".tmp-{version}-{os.getpid()}")
  try:
    tf.saved_model.save(serving, tmp, signatures={
        "serving_default": serving.sample, "complete": serving.complete,
        "score": serving.score})
    if tf.io.gfile.exists(final):
      raise ExportError(f"{final} appeared while exporting; not replacing it")
    tf.io.gfile.rename(tmp, final)
  finally:
    if tf.io.gfile.exists(tmp):
      shutil.rmtree(tmp, ignore_errors=True)
  save_keras(serving.generator, os.path.join(export_base,
                                             f"{model_name}.keras"))
  return final


def save_keras(generator: Generator, path: str) -> None:
  """G as a Keras file (`keras.saving.load_model(path)` gives it back), next
  to the SavedModel versions: replaced atomically by each export."""
  tmp = f"{path[:-len('.keras')]}.tmp-{os.getpid()}.keras"
  try:
    generator.save(tmp)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def load(export_dir: str):
  """A SavedModel from a version folder, or the newest version of a model
  folder (as TF Serving would pick it)."""
  if not tf.io.gfile.exists(os.path.join(export_dir, "saved_model.pb")):
    numbered = versions(export_dir)
    if not numbered:
      raise ExportError(
          f"{export_dir} is not a SavedModel (no saved_model.pb) and holds no "
          "numbered versions; point --export_dir at WORKDIR/export/<model> "
          "or one of its version folders.")
    export_dir = os.path.join(export_dir, str(numbered[-1]))
  # A SavedModel is a program: load only exports you trust (README).
  try:
    return tf.saved_model.load(export_dir)
  except Exception as e:  # a damaged export fails in many ways
    raise ExportError(
        f"{export_dir} is not a readable SavedModel ({type(e).__name__}: "
        f"{str(e).splitlines()[0] if str(e) else ''}). Export it again with "
        "--mode=export --workdir=WORKDIR, or point --export_dir at another "
        "version.") from e


# ------------------------------------------------------------ from a workdir
def serving_module(config, workdir: str,
                   generator: Generator) -> GeneratorServing:
  """The generator with its task's vocabulary, ready to export."""
  from seqgan_tf import tasks
  tokens, level, reserved = tasks.serving_vocabulary(config, workdir)
  return GeneratorServing(generator, tokens, level, reserved)


def restore_generator(config, workdir: str) -> Generator:
  """G from the workdir's latest readable checkpoint (no optimiser, no D)."""
  from seqgan_tf import tasks
  from seqgan_tf.training import workdir as workdir_lib
  workdir_lib.check(config, workdir, write=False)
  tokens, _, _ = tasks.serving_vocabulary(config, workdir)
  generator = Generator(len(tokens), config.gen_emb_dim, config.gen_hidden_dim,
                        config.seq_length, tasks.start_token(config),
                        name="generator")
  checkpoint = tf.train.Checkpoint(generator=generator)
  manager = tf.train.CheckpointManager(
      checkpoint, os.path.join(workdir, workdir_lib.CHECKPOINTS),
      max_to_keep=None)
  if workdir_lib.restore_latest(checkpoint, manager, partial=True) is None:
    raise workdir_lib.WorkdirError(f"{workdir} holds no readable checkpoint; "
                                   "train first.")
  return generator


def export_from_workdir(config, workdir: str) -> str:
  """Exports the generator of the workdir's latest checkpoint (--mode=export)."""
  generator = restore_generator(config, workdir)
  path = export(serving_module(config, workdir, generator),
                os.path.join(workdir, "export"), config.export_name)
  logging.info("Exported %s to %s", config.export_name, path)
  return path
