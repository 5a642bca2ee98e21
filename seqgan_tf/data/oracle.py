"""The synthetic experiment's oracle ("target LSTM") and NLL-oracle.

The oracle is a `Generator` whose weights come from the authors' pickle (or a
seeded N(0, 1) draw, as the paper initialises it). NLL-oracle is the oracle's
mean per-token negative log-likelihood of sequences sampled from G.
"""

from __future__ import annotations

import pickle

import numpy as np
import tensorflow as tf

from seqgan_tf.modeling import Generator, chunked_log_probs

# The pickle's order (authors' target_lstm.py).
PARAM_NAMES = ("emb", "Wi", "Ui", "bi", "Wf", "Uf", "bf", "Wog", "Uog", "bog",
               "Wc", "Uc", "bc", "Wo", "bo")


class OracleError(ValueError):
  """The oracle parameter file is missing or malformed."""


# The only callables a parameter pickle may name: what a list of numpy arrays
# needs. Anything else (os.system, builtins.eval, ...) is refused before it is
# looked up, so reading a file can never run its code.
_RECONSTRUCT = np.array(0).__reduce__()[0]      # numpy's _reconstruct
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,   # numpy 1.x
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 2.x
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
  """An unpickler that builds lists of numpy arrays and nothing else."""

  def find_class(self, module: str, name: str):
    try:
      return _ALLOWED_GLOBALS[(module, name)]
    except KeyError:
      raise pickle.UnpicklingError(
          f"it asks to call {module}.{name}, which a parameter file never "
          "needs (a pickle that names other callables can run code, so it "
          "is refused unread)") from None


def expected_shapes(vocab: int, emb: int, hidden: int) -> dict[str, tuple]:
  shapes = {"emb": (vocab, emb), "Wo": (hidden, vocab), "bo": (vocab,)}
  for gate in ("i", "f", "og", "c"):
    shapes[f"W{gate}"] = (emb, hidden)
    shapes[f"U{gate}"] = (hidden, hidden)
    shapes[f"b{gate}"] = (hidden,)
  return shapes


def load_params(path: str, vocab: int, emb: int,
                hidden: int) -> dict[str, np.ndarray]:
  """Reads the authors' target_params pickle: a list of 15 float32 arrays.

  Only numpy arrays are rebuilt: a pickle naming any other callable is
  refused without running anything.

  Raises:
    OracleError: the file is missing, not such a pickle, or of other shapes.
  """
  try:
    with tf.io.gfile.GFile(path, "rb") as f:
      arrays = _ArraysOnlyUnpickler(f).load()
  except (OSError, tf.errors.NotFoundError) as e:
    raise OracleError(f"cannot read --oracle_params={path}: {e}. Point it at "
                      "target_params_py3.pkl (see ../shared/data/synthetic/) "
                      "or leave it empty for a random oracle.") from e
  except (pickle.UnpicklingError, EOFError, AttributeError, ImportError,
          TypeError, ValueError, IndexError) as e:
    raise OracleError(f"--oracle_params={path} is not a parameter pickle "
                      f"({e}); expected a list of 15 float32 arrays.") from e
  if not isinstance(arrays, (list, tuple)) or len(arrays) != len(PARAM_NAMES):
    raise OracleError(f"--oracle_params={path}: expected a list of "
                      f"{len(PARAM_NAMES)} arrays {PARAM_NAMES}.")
  shapes = expected_shapes(vocab, emb, hidden)
  params = {}
  for name, array in zip(PARAM_NAMES, arrays):
    try:
      array = np.asarray(array, np.float32)
    except (TypeError, ValueError) as e:
      raise OracleError(f"--oracle_params={path}: {name} is not a float "
                        f"array ({e}).") from e
    if array.shape != shapes[name]:
      raise OracleError(
          f"--oracle_params={path}: {name} has shape {array.shape}, expected "
          f"{shapes[name]} for --vocab_size={vocab} --gen_emb_dim={emb} "
          f"--gen_hidden_dim={hidden}. Set those flags to the file's shapes.")
    params[name] = array
  return params


def random_params(vocab: int, emb: int, hidden: int,
                  seed: int) -> dict[str, np.ndarray]:
  """A random oracle as the paper draws one: every parameter N(0, 1)."""
  rng = np.random.default_rng(seed)
  return {name: rng.standard_normal(shape).astype(np.float32)
          for name, shape in expected_shapes(vocab, emb, hidden).items()}


def build_oracle(params: dict[str, np.ndarray], seq_length: int,
                 start_token: int) -> Generator:
  """A Generator holding the oracle's weights (Keras gate order i, f, c, o)."""
  vocab, emb = params["emb"].shape
  hidden = params["Ui"].shape[0]
  oracle = Generator(vocab, emb, hidden, seq_length, start_token, name="oracle")
  oracle.trainable = False
  gates = ("i", "f", "c", "og")
  oracle.embedding.set_weights([params["emb"]])
  oracle.cell.set_weights([
      np.concatenate([params[f"W{g}"] for g in gates], axis=1),
      np.concatenate([params[f"U{g}"] for g in gates], axis=1),
      np.concatenate([params[f"b{g}"] for g in gates], axis=0)])
  oracle.output_layer.set_weights([params["Wo"], params["bo"]])
  return oracle


def nll(oracle: Generator, sequences: tf.Tensor) -> tf.Tensor:
  """Per-sequence mean NLL under the oracle: [n, T] -> [n].

  NLL-oracle is its mean over sequences sampled from G.
  """
  return -tf.reduce_mean(chunked_log_probs(oracle, sequences), axis=1)
