"""The paper's CNN discriminator D: P(real) of a token sequence."""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from seqgan_tf.modeling.generator import through_end
from seqgan_tf.training import distribute


@keras.saving.register_keras_serializable(package="seqgan_tf")
class Discriminator(keras.Model):
  """The paper's CNN: P(real) of a [batch, time] token sequence.

  Embedding U(-1, 1); one Conv1D per width over the embedding as channels
  (VALID, ReLU, truncated-N(0, 0.1) kernels, 0.1 biases) and max over time;
  one highway layer (ReLU transform, sigmoid gate, gate bias 0); dropout; a
  2-way (fake, real) output layer carrying the L2 penalty. Conv1D runs the
  authors' convolutions in the layout oneDNN is fast at (their Conv2D over a
  one-channel image measured an order of magnitude slower).

  With an `end_token`, every position after a row's first end token is read
  as `pad_token`: D judges only what was written, in training and when it
  rewards roll-outs, and a generator's tokens after </s> are no cue.

  `compute_dtype="bfloat16"` runs the convolutions and the highway layer in
  bfloat16 (Keras' mixed_bfloat16 policy: variables stay float32, so
  checkpoints are the same either way); dropout, the output layer and every
  loss stay float32.
  """

  def __init__(self, vocab_size: int, emb_dim: int,
               filter_sizes: Sequence[int], num_filters: Sequence[int],
               dropout_keep: float = 0.75, l2: float = 0.2,
               seed: int | None = None, name: str = "discriminator",
               end_token: int | None = None, pad_token: int = 0,
               compute_dtype: str = "float32"):
    super().__init__(name=name)
    policy = {"float32": "float32",
              "bfloat16": "mixed_bfloat16"}[compute_dtype]
    self.dropout_rate = 1.0 - dropout_keep
    self.l2 = l2
    self.end_token, self.pad_token = end_token, pad_token
    self._config = {"vocab_size": vocab_size, "emb_dim": emb_dim,
                    "filter_sizes": list(filter_sizes),
                    "num_filters": list(num_filters),
                    "dropout_keep": dropout_keep, "l2": l2, "seed": seed,
                    "name": name, "end_token": end_token,
                    "pad_token": pad_token, "compute_dtype": compute_dtype}

    def seeded(init, offset, **kw):
      return init(seed=None if seed is None else seed + offset, **kw)

    self.embedding = keras.layers.Embedding(
        vocab_size, emb_dim, name="embedding", dtype=policy,
        embeddings_initializer=seeded(keras.initializers.RandomUniform, 0,
                                      minval=-1.0, maxval=1.0))
    self.convs = [
        keras.layers.Conv1D(
            n, w, padding="valid", activation="relu", name=f"conv_w{w}",
            dtype=policy,
            kernel_initializer=seeded(keras.initializers.TruncatedNormal,
                                      10 + i, stddev=0.1),
            bias_initializer=keras.initializers.Constant(0.1))
        for i, (w, n) in enumerate(zip(filter_sizes, num_filters))
    ]
    features = sum(num_filters)
    self.highway_transform = keras.layers.Dense(
        features, activation="relu", name="highway_transform", dtype=policy,
        kernel_initializer=seeded(keras.initializers.GlorotUniform, 1))
    self.highway_gate = keras.layers.Dense(
        features, activation="sigmoid", name="highway_gate", dtype=policy,
        kernel_initializer=seeded(keras.initializers.GlorotUniform, 2))
    self.output_layer = keras.layers.Dense(
        2, name="output",
        kernel_initializer=seeded(keras.initializers.TruncatedNormal, 3,
                                  stddev=0.1),
        bias_initializer=keras.initializers.Constant(0.1))
    self(tf.zeros([1, max(filter_sizes)], tf.int32))

  def get_config(self) -> dict:
    """The constructor's arguments, for `.keras` files (see Generator)."""
    return dict(self._config)

  def call(self, tokens: tf.Tensor, training: bool = False,
           dropout_seed: tf.Tensor | None = None,
           dropout_rows: tuple[tf.Tensor, int] | None = None) -> tf.Tensor:
    """Logits over (fake, real).

    Args:
      tokens: [batch, time] int ids.
      training: apply dropout (then `dropout_seed`, a [2] int seed, is needed:
        stateless dropout keeps runs reproducible and resumable).
      dropout_rows: (first row, global batch) when this is one replica's share
        of a batch (distribute.global_rows); None on one device.

    Returns:
      [batch, 2] logits.
    """
    if self.end_token is not None:
      tokens = tf.where(through_end(tokens, self.end_token) > 0, tokens,
                        tf.cast(self.pad_token, tokens.dtype))
    x = self.embedding(tokens)
    pooled = tf.concat([self._conv_max(conv, x) for conv in self.convs],
                       axis=1)
    gate = self.highway_gate(pooled)
    features = tf.cast(
        gate * self.highway_transform(pooled) + (1.0 - gate) * pooled,
        tf.float32)
    if training and self.dropout_rate > 0.0 and dropout_rows is None:
      features = tf.nn.experimental.stateless_dropout(
          features, rate=self.dropout_rate, seed=dropout_seed)
    elif training and self.dropout_rate > 0.0:
      # This replica's rows of the mask one device would draw (the same ops
      # as stateless_dropout, which gives bit-identical masks).
      keep = distribute.uniform(features.shape.as_list(), dropout_seed, 0,
                                dropout_rows) >= self.dropout_rate
      features = (features * (1.0 / (1.0 - self.dropout_rate))
                  * tf.cast(keep, features.dtype))
    return self.output_layer(features)

  @staticmethod
  def _conv_max(conv: keras.layers.Conv1D, x: tf.Tensor) -> tf.Tensor:
    """Max over time of one width's ReLU convolution.

    A kernel nearly as wide as the sequence sees few positions; there one
    matmul over the gathered windows does the same arithmetic as the Conv1D
    and its gradient measured several times faster than oneDNN's convolution
    gradient (widths 15 and 20 at length 20; bench/dis_widths.py). Elsewhere
    the convolution is as fast or faster.

    Args:
      conv: the width's layer (it owns the kernel [width, emb, filters]).
      x: [batch, T, emb] embedded tokens, in D's compute dtype.

    Returns:
      [batch, filters].
    """
    width, length = conv.kernel_size[0], x.shape[1]
    if length is None or 2 * (length - width + 1) > width:
      return tf.reduce_max(conv(x), axis=1)
    if not conv.built:
      conv.build(x.shape)
    positions, emb = length - width + 1, x.shape[2]
    starts = tf.range(positions)[:, None] + tf.range(width)[None, :]
    windows = tf.reshape(tf.gather(x, starts, axis=1),  # [b, pos, width, emb]
                         [-1, width * emb])
    kernel = tf.cast(tf.reshape(conv.kernel, [width * emb, conv.filters]),
                     x.dtype)
    y = tf.nn.relu(tf.matmul(windows, kernel) + tf.cast(conv.bias, x.dtype))
    return tf.reduce_max(tf.reshape(y, [-1, positions, conv.filters]), axis=1)

  def prob_real(self, tokens: tf.Tensor) -> tf.Tensor:
    """P(real) with dropout off: [batch, time] -> [batch]."""
    return tf.nn.softmax(self(tokens))[:, 1]

  def l2_loss(self) -> tf.Tensor:
    """The authors' l2_reg_lambda * tf.nn.l2_loss on the output layer."""
    return self.l2 * 0.5 * tf.add_n(
        [tf.reduce_sum(tf.square(v)) for v in self.output_layer.trainable_variables])
