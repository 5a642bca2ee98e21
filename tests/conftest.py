"""Shared test helpers: where the shared corpora live, and a NumPy LSTM."""

import os
import pathlib

import numpy as np
import pytest
from absl import flags

# absl's test helpers (create_tempdir, flagsaver) read flags; pytest parses none.
flags.FLAGS.mark_as_parsed()

REPO = pathlib.Path(__file__).resolve().parents[1]
# Tests and .ci/run read the corpora from ../shared/data unless told otherwise.
DATA_DIR = pathlib.Path(os.environ.get("SEQGAN_DATA_DIR",
                                       REPO.parent / "shared" / "data"))


def shared_file(*parts: str) -> str:
  """A shared corpus file; skips locally when absent, fails under CI."""
  path = DATA_DIR.joinpath(*parts)
  if not path.exists():
    message = f"{path} not found (set SEQGAN_DATA_DIR)"
    if os.environ.get("CI"):
      pytest.fail(message)
    pytest.skip(message)
  return str(path)


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def numpy_oracle_log_probs(params: dict, tokens: np.ndarray,
                           start_token: int = 0) -> np.ndarray:
  """The authors' target-LSTM equations in float64 NumPy.

  Args:
    params: the pickle's arrays by name (emb, Wi, Ui, bi, ..., Wo, bo).
    tokens: [batch, T] ids.

  Returns:
    [batch, T] log p(y_t | y_<t).
  """
  p = {k: v.astype(np.float64) for k, v in params.items()}
  batch, length = tokens.shape
  hidden = p["Ui"].shape[0]
  h = np.zeros([batch, hidden])
  c = np.zeros([batch, hidden])
  prev = np.full([batch], start_token)
  out = np.zeros([batch, length])
  for t in range(length):
    x = p["emb"][prev]
    i = sigmoid(x @ p["Wi"] + h @ p["Ui"] + p["bi"])
    f = sigmoid(x @ p["Wf"] + h @ p["Uf"] + p["bf"])
    o = sigmoid(x @ p["Wog"] + h @ p["Uog"] + p["bog"])
    c_tilde = np.tanh(x @ p["Wc"] + h @ p["Uc"] + p["bc"])
    c = f * c + i * c_tilde
    h = o * np.tanh(c)
    logits = h @ p["Wo"] + p["bo"]
    logits -= logits.max(-1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    out[:, t] = log_softmax[np.arange(batch), tokens[:, t]]
    prev = tokens[:, t]
  return out


def pytest_collection_modifyitems(items):
  # tf.test.TestCase.test_session is a context manager, not a test.
  items[:] = [item for item in items if item.name != "test_session"]


def smoke_config(**changes):
  """flags/smoke.flags as a Config, with `changes` applied."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from seqgan_tf import config as config_lib
  values = {}
  defaults = {f.name: f.default for f in dataclasses.fields(config_lib.Config)}
  for line in (REPO / "flags" / "smoke.flags").read_text().splitlines():
    if not line.startswith("--"):
      continue
    name, value = line[2:].split("=", 1)
    default = defaults[name]
    if isinstance(default, bool):
      values[name] = value == "true"
    elif isinstance(default, tuple):
      values[name] = tuple(int(v) for v in value.split(","))
    else:
      values[name] = type(default)(value)
  return config_lib.replace(config_lib.Config(), **{**values, **changes})
