"""The run folder: atomic writes, its saved configuration, its checkpoints.

Nothing here deletes a user's file. A file that cannot be read is reported
with its path and the fix; a damaged checkpoint is moved aside (kept) and the
run resumes from the newest readable one.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import tensorflow as tf
from absl import logging

from seqgan_tf.config import Config, ConfigError

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
SCORES_FILE = "final_scores.npz"   # every final sample's score, for t-tests
CHECKPOINTS = "checkpoints"
WALL_CLOCK_FILE = "wall_clock.json"  # seconds of training to the last checkpoint
DAMAGED = "damaged"        # checkpoints/damaged/: unreadable checkpoints, kept


class WorkdirError(ConfigError):
  """A file in the workdir is unreadable or belongs to another run."""


def write_atomic(path: str, content: str | bytes) -> None:
  """Writes `path` through a temporary file and a rename: all or nothing."""
  tmp = f"{path}.tmp-{os.getpid()}"
  with tf.io.gfile.GFile(tmp, "wb" if isinstance(content, bytes) else "w") as f:
    f.write(content)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def read_json(path: str, fix: str) -> Any:
  """A JSON file of the workdir, or one clear error naming it and the fix."""
  try:
    with tf.io.gfile.GFile(path) as f:
      return json.loads(f.read())
  except (ValueError, UnicodeDecodeError, tf.errors.OpError, OSError) as e:
    raise WorkdirError(f"{path} is unreadable ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''}). {fix} "
                       "Nothing in the workdir was changed.") from e


def saved_config(workdir: str) -> dict[str, Any] | None:
  """The full configuration a run in `workdir` was last started with."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not tf.io.gfile.exists(path):
    return None
  saved = read_json(path, _CONFIG_FIX)
  if not isinstance(saved, dict):
    raise WorkdirError(f"{path} is not a run configuration. {_CONFIG_FIX}")
  return saved.get("full", {})


_CONFIG_FIX = ("It records the configuration of the run in this workdir: "
               "restore it from a backup, or start in a new --workdir.")


def check(config: Config, workdir: str, write: bool = True) -> None:
  """Refuses a workdir that holds a run of another model configuration.

  Then (write=True) records `config` as the run's configuration.
  """
  path = os.path.join(workdir, CONFIG_FILE)
  exists = tf.io.gfile.exists(path)
  if not write and not exists:
    raise WorkdirError(f"{workdir} holds no run (no {CONFIG_FILE}); check "
                       "--workdir.")
  if exists:
    diff = _differences(read_json(path, _CONFIG_FIX), config)
    if diff:
      raise WorkdirError(f"{workdir} holds a run of another configuration "
                         f"({diff}). Use a new --workdir, or the flags that "
                         "run was started with.")
  if write:
    tf.io.gfile.makedirs(workdir)
    record = config.model_fingerprint() | {"full": json.loads(config.to_json())}
    write_atomic(path, json.dumps(record, indent=2, sort_keys=True))


def record_schedule(workdir: str, config: Config) -> None:
  """Writes `config`'s schedule (fitted at start-up to its time budget) into
  the run's config.json, so that a resumed run follows the same schedule."""
  path = os.path.join(workdir, CONFIG_FILE)
  record = read_json(path, _CONFIG_FIX)
  for name in ("pretrain_gen_epochs", "adv_iterations", "time_budget_minutes"):
    record["full"][name] = getattr(config, name)
  write_atomic(path, json.dumps(record, indent=2, sort_keys=True))


def _differences(saved: dict[str, Any], config: Config,
                 ignore: tuple[str, ...] = ()) -> str:
  """The fingerprint fields where a saved run and `config` differ ('' none)."""
  ours = config.model_fingerprint()
  # A field newer than the saved run behaved as its default there.
  defaults = Config().model_fingerprint()
  diff = {k: (saved.get(k, defaults[k]), v) for k, v in ours.items()
          if saved.get(k, defaults[k]) != v and k not in ignore}
  return ", ".join(f"--{k}: workdir has {a!r}, flags give {b!r}"
                   for k, (a, b) in sorted(diff.items()))


def restore_from(checkpoint: tf.train.Checkpoint, source: str,
                 config: Config) -> str:
  """Restores another run's newest checkpoint (--init_from); returns its path.

  The other run is only read. Its model must be this one's; the seed and
  batch size may differ (they change what happens next, not the shapes).
  """
  path = os.path.join(source, CONFIG_FILE)
  if not tf.io.gfile.exists(path):
    raise WorkdirError(f"--init_from={source} holds no run (no {CONFIG_FILE});"
                       " give the workdir of the run to start from.")
  diff = _differences(read_json(path, _CONFIG_FIX), config,
                      ignore=("seed", "batch_size"))
  if diff:
    raise WorkdirError(f"--init_from={source} is a run of another model "
                       f"({diff}). Start from a run with this model.")
  prefix = tf.train.latest_checkpoint(os.path.join(source, CHECKPOINTS))
  why = "it has none" if prefix is None else _readable(prefix)
  if why is not None:
    raise WorkdirError(f"--init_from={source}: its latest checkpoint cannot be "
                       f"read ({why}). Start from another run.")
  try:
    checkpoint.restore(prefix).assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    raise WorkdirError(f"--init_from={source}: checkpoint {prefix} does not "
                       f"fit this configuration ({str(e).splitlines()[0]})."
                       ) from e
  return prefix


def _readable(prefix: str) -> str | None:
  """None if every tensor of checkpoint `prefix` reads back; else why not."""
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except Exception as e:  # truncation and corruption surface as many types
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
  return None


def _move_aside(prefix: str) -> str:
  """Moves a damaged checkpoint's files to checkpoints/damaged/; returns where."""
  folder = os.path.join(os.path.dirname(prefix), DAMAGED,
                        time.strftime("%Y%m%d-%H%M%S"))
  tf.io.gfile.makedirs(folder)
  for path in tf.io.gfile.glob(prefix + ".*"):
    tf.io.gfile.rename(path, os.path.join(folder, os.path.basename(path)))
  return folder


def restore_latest(checkpoint: tf.train.Checkpoint,
                   manager: tf.train.CheckpointManager,
                   partial: bool = False) -> str | None:
  """Restores the newest readable checkpoint; returns its path (None: none).

  A checkpoint that cannot be read (a crash or a full disk while writing) is
  moved to checkpoints/damaged/, with a warning, and the previous one is
  tried. One that reads but does not fit this model is a configuration error.
  partial: `checkpoint` holds only some of what was saved (e.g. G alone).
  """
  for prefix in reversed(manager.checkpoints):
    why = _readable(prefix)
    if why is not None:
      kept = _move_aside(prefix)
      logging.warning("Checkpoint %s is damaged (%s). Its files are kept in %s;"
                      " trying the previous checkpoint.", prefix, why, kept)
      continue
    try:
      status = checkpoint.restore(prefix)
      if partial:
        status.expect_partial()
      status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
      raise WorkdirError(f"checkpoint {prefix} does not fit this "
                         f"configuration ({str(e).splitlines()[0]}). Use a "
                         "new --workdir.") from e
    return prefix
  if manager.checkpoints:
    logging.warning("No readable checkpoint is left in %s: starting from the "
                    "beginning.", manager.directory)
  return None


class WallClock:
  """A run's training time over all its starts (results.json: wall_seconds).

  The seconds up to each checkpoint are written beside it (WALL_CLOCK_FILE),
  with the seconds each phase's completed units took, so a resumed run adds
  on to what its stopped starts had spent.
  """

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, WALL_CLOCK_FILE)
    self.started, self.before = time.monotonic(), 0.0
    self.phases: dict[str, float] = {}
    self.units: dict[str, int] = {}     # the units those seconds cover

  def resume(self) -> None:
    """Counts on from the time recorded with the last checkpoint (if any)."""
    if tf.io.gfile.exists(self.path):
      saved = read_json(self.path,
                        "Delete it to count the run's time from now on.")
      self.before = float(saved["seconds"])
      self.phases = {k: float(v) for k, v in saved.get("phases", {}).items()}
      self.units = {k: int(v) for k, v in saved.get("units", {}).items()}

  def seconds(self) -> float:
    return self.before + time.monotonic() - self.started

  def add(self, phase: str, seconds: float) -> None:
    """Counts one completed unit of `phase` (evaluations and saves aside)."""
    self.phases[phase] = self.phases.get(phase, 0.0) + seconds
    self.units[phase] = self.units.get(phase, 0) + 1

  def record(self, checkpoint_path: str) -> None:
    write_atomic(self.path, json.dumps(
        {"checkpoint": os.path.basename(checkpoint_path),
         "seconds": self.seconds(), "phases": self.phases,
         "units": self.units}))
