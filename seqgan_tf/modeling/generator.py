"""The two players: an LSTM policy G and the paper's CNN discriminator D.

The generator's step is Keras' `LSTMCell` (gates packed [i, f, c, o], sigmoid
recurrent activation, no forget-bias offset), which is exactly the authors'
target-LSTM equations, so the same class also serves as the oracle.
"""

from __future__ import annotations

import keras
import tensorflow as tf

State = list  # [h, c], each [batch, hidden]

# Rows of [rows, vocab] logits made at once: 512 x 5,000 float32 is 10 MB,
# inside a server CPU's L3 cache; much larger blocks ran several times slower
# per row (bench/README.md).
LOGIT_ROWS = 512


@tf.function(jit_compile=True, autograph=False)
def _picked_log_softmax(logits: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
  """log softmax(logits)[target] per row: [rows, vocab], [rows] -> [rows].

  XLA fuses the max, the sum of exponentials and the pick into two reads of
  the logits. Alone it measured no faster than graph mode (the exps dominate);
  the gradient below gains from the same fusion.
  """
  picked = tf.gather(logits, targets, batch_dims=1)
  return picked - tf.reduce_logsumexp(logits, axis=-1)


@tf.function(jit_compile=True, autograph=False)
def _picked_log_softmax_grad(logits: tf.Tensor, targets: tf.Tensor,
                             log_probs: tf.Tensor,
                             upstream: tf.Tensor) -> tf.Tensor:
  """d/d logits of sum_r upstream_r * log_probs_r, in one fused pass.

  Args:
    logits: [rows, vocab]; targets, log_probs, upstream: [rows].

  Returns:
    [rows, vocab]: upstream * (one_hot(target) - softmax(logits)).
  """
  picked = tf.gather(logits, targets, batch_dims=1)
  log_normaliser = picked - log_probs                     # logsumexp, [rows]
  softmax = tf.exp(logits - log_normaliser[:, None])
  one_hot = tf.one_hot(targets, tf.shape(logits)[1], dtype=logits.dtype)
  return upstream[:, None] * (one_hot - softmax)


def output_log_probs(h: tf.Tensor, kernel, bias, targets: tf.Tensor
                     ) -> tf.Tensor:
  """log softmax(h @ kernel + bias)[target] per row, with a hand-written
  gradient that makes the [rows, vocab] softmax gradient in one XLA pass
  (an MLE step measured faster than with graph mode's autodiff, bench/).

  Args:
    h: [rows, hidden]; kernel: [hidden, vocab]; bias: [vocab] (tensors or
      variables: they are read here, so the tape sees the reads);
    targets: [rows] int32.

  Returns:
    [rows] log-probabilities.
  """
  return _output_log_probs(h, tf.convert_to_tensor(kernel),
                           tf.convert_to_tensor(bias), targets)


@tf.custom_gradient
def _output_log_probs(h, kernel, bias, targets):
  logits = tf.matmul(h, kernel) + bias
  log_probs = _picked_log_softmax(logits, targets)

  def grad(upstream):
    d_logits = _picked_log_softmax_grad(logits, targets, log_probs, upstream)
    return (tf.matmul(d_logits, kernel, transpose_b=True),
            tf.matmul(h, d_logits, transpose_a=True),
            tf.reduce_sum(d_logits, axis=0), None)

  return log_probs, grad


@keras.saving.register_keras_serializable(package="seqgan_tf")
class Generator(keras.Model):
  """LSTM policy G(y_t | y_<t) over a fixed length with a start token.

  Args:
    vocab_size: number of token ids.
    emb_dim: token embedding width.
    hidden_dim: LSTM state width.
    seq_length: T, the length of every generated sequence.
    start_token: the id fed as the first input.
    init_stddev: every parameter, biases included, starts N(0, init_stddev)
      (authors' code: 0.1; the paper's oracle: 1.0).
  """

  def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int,
               seq_length: int, start_token: int = 0,
               init_stddev: float = 0.1, seed: int | None = None,
               name: str = "generator"):
    super().__init__(name=name)
    self.vocab_size = vocab_size
    self.emb_dim = emb_dim
    self.hidden_dim = hidden_dim
    self.seq_length = seq_length
    self.start_token = start_token
    self.init_stddev, self.seed = init_stddev, seed

    def init(offset):
      return keras.initializers.RandomNormal(
          stddev=init_stddev, seed=None if seed is None else seed + offset)

    self.embedding = keras.layers.Embedding(
        vocab_size, emb_dim, embeddings_initializer=init(0), name="embedding")
    self.cell = keras.layers.LSTMCell(
        hidden_dim, unit_forget_bias=False, kernel_initializer=init(1),
        recurrent_initializer=init(2), bias_initializer=init(3), name="lstm")
    self.output_layer = keras.layers.Dense(
        vocab_size, kernel_initializer=init(4), bias_initializer=init(5),
        name="output")
    # Build every layer now: the export and checkpoint code needs variables.
    self.step(tf.zeros([1], tf.int32), self.initial_state(1))
    self.built = True

  def get_config(self) -> dict:
    """The constructor's arguments: `G.save("g.keras")` and
    `keras.saving.load_model` rebuild G from them, then load its weights."""
    return {"vocab_size": self.vocab_size, "emb_dim": self.emb_dim,
            "hidden_dim": self.hidden_dim, "seq_length": self.seq_length,
            "start_token": self.start_token, "init_stddev": self.init_stddev,
            "seed": self.seed, "name": self.name}

  def initial_state(self, batch_size) -> State:
    zeros = tf.zeros([batch_size, self.hidden_dim])
    return [zeros, zeros]

  def step(self, tokens: tf.Tensor, state: State) -> tuple[tf.Tensor, State]:
    """Consumes one token per row.

    Args:
      tokens: [batch] int ids of the previous token.
      state: [h, c], each [batch, hidden].

    Returns:
      logits [batch, vocab] for the next token, and the new state.
    """
    h, state = self.cell(self.embedding(tokens), state)
    return self.output_layer(h), state

  def advance(self, tokens: tf.Tensor, state: State) -> State:
    """Like `step` but without the output projection. tokens: [batch]."""
    _, state = self.cell(self.embedding(tokens), state)
    return state

  def unroll(self, inputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Teacher-forced pass from the zero state.

    Args:
      inputs: [batch, time] token ids fed at each step.

    Returns:
      h, c: [batch, time, hidden]; position t is the state after consuming
      inputs[:, t], i.e. the state that predicts the token after it.
    """
    x = self.embedding(inputs)
    state = self.initial_state(tf.shape(inputs)[0])
    hs, cs = [], []
    for t in range(inputs.shape[1]):  # static T: unrolled, no AutoGraph needed
      _, state = self.cell(x[:, t], state)
      hs.append(state[0])
      cs.append(state[1])
    return tf.stack(hs, 1), tf.stack(cs, 1)

  def shift_right(self, tokens: tf.Tensor) -> tf.Tensor:
    """[batch, time] targets -> [batch, time] inputs: start, y_1..y_{T-1}."""
    start = tf.fill([tf.shape(tokens)[0], 1], tf.cast(self.start_token,
                                                      tokens.dtype))
    return tf.concat([start, tokens[:, :-1]], axis=1)

  def call(self, tokens: tf.Tensor) -> tf.Tensor:
    """Teacher-forced logits. tokens: [batch, time] -> [batch, time, vocab]."""
    h, _ = self.unroll(self.shift_right(tokens))
    return self.output_layer(h)

  def log_probs(self, tokens: tf.Tensor, use_xla: bool = True) -> tf.Tensor:
    """log G(y_t | y_<t) of given sequences: [batch, time] -> [batch, time].

    The [rows, vocab] logits are made a few timesteps at a time so that each
    slice stays in cache (`LOGIT_ROWS`), and each log-prob is the picked logit
    minus the log-sum-exp: both measured faster than one fused softmax
    cross-entropy over the whole [batch * time, vocab] block (bench/).

    Args:
      tokens: [batch, time] ids.
      use_xla: fuse the softmax passes with XLA (`output_log_probs`). The
        exported SavedModel passes False: TF Serving runs graph ops only.
    """
    tokens = tf.cast(tokens, tf.int32)
    h, _ = self.unroll(self.shift_right(tokens))
    batch, length = tokens.shape
    step = max(1, LOGIT_ROWS // batch) if batch else 1
    out = []
    for t in range(0, length, step):
      k = min(step, length - t)
      rows = tf.reshape(h[:, t:t + k], [-1, self.hidden_dim])
      targets = tf.reshape(tokens[:, t:t + k], [-1])
      if use_xla:
        picked = output_log_probs(rows, self.output_layer.kernel,
                                  self.output_layer.bias, targets)
      else:
        logits = self.output_layer(rows)
        picked = (tf.gather(logits, targets, batch_dims=1)
                  - tf.reduce_logsumexp(logits, axis=-1))
      out.append(tf.reshape(picked, [-1, k]))
    return tf.concat(out, axis=1)


def through_end(tokens: tf.Tensor, end_token: int | None) -> tf.Tensor:
  """[batch, T] float32: 1 up to and including each row's first end token.

  Everything after a sequence's </s> is not data: not for the MLE loss, the
  policy gradient or D. With no end token (the synthetic task) all ones.
  """
  if end_token is None:
    return tf.ones(tf.shape(tokens), tf.float32)
  is_end = tf.cast(tf.equal(tokens, tf.cast(end_token, tokens.dtype)),
                   tf.int32)
  return tf.cast(tf.cumsum(is_end, axis=1, exclusive=True) == 0, tf.float32)


def chunked_log_probs(generator: Generator, tokens: tf.Tensor,
                      chunk_rows: int = LOGIT_ROWS) -> tf.Tensor:
  """`generator.log_probs` over many sequences, `chunk_rows` at a time.

  Args:
    tokens: [n, T] int32.

  Returns:
    [n, T] log-probabilities.
  """
  n, length = tokens.shape
  chunk = min(chunk_rows, n)
  padded = -(-n // chunk) * chunk
  blocks = tf.reshape(tf.pad(tokens, [[0, padded - n], [0, 0]]),
                      [-1, chunk, length])
  out = tf.map_fn(generator.log_probs, blocks,
                  fn_output_signature=tf.float32, parallel_iterations=2)
  return tf.reshape(out, [-1, length])[:n]
