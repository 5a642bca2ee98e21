"""Every random draw's seed: the run's --seed and a path (what, counters...).

The first element of a path says which part of a run draws; the rest are
its loop counters, so a resumed run makes exactly the draws an uninterrupted
one would have made. The values are part of every run's results: changing
one changes the draws of that part.
"""

from __future__ import annotations

import enum

import numpy as np
import tensorflow as tf

from seqgan_tf.modeling import sampler


class SeedPath(enum.IntEnum):
  """The first element of a seed path; also a phase's id in a checkpoint."""
  MLE = 1             # MLE (and scheduled-sampling) epochs
  DIS_PRETRAIN = 2    # D pre-training steps
  ADVERSARIAL = 3     # adversarial iterations
  EVAL = 4            # evaluations and the start-up timing
  DATA = 5            # the synthetic task's oracle data
  SWEEP = 6           # the temperature sweep's samples


def _plain(value):
  """An enum member as its int (tf.cast does not take IntEnum members)."""
  return int(value) if isinstance(value, enum.Enum) else value


def stateless_seed(seed: int, *path: int) -> tf.Tensor:
  """A [2] int32 stateless seed for the draw at `path`."""
  return sampler.seed_at(seed, *(_plain(p) for p in path))


def int_seed(seed: int, *path: int) -> int:
  """A Python int seed (tf.data shuffles, NumPy) for the draw at `path`."""
  return int(np.random.SeedSequence([seed, *(_plain(p) for p in path)])
             .generate_state(1)[0] % (2**31 - 1))
