"""Generator and discriminator against hand-derived references."""

import numpy as np
import tensorflow as tf

from conftest import numpy_oracle_log_probs
from seqgan_tf import config as config_lib
from seqgan_tf.modeling import Discriminator, Generator, output_log_probs


def generator_params_by_name(gen: Generator) -> dict:
  """The generator's weights in the oracle pickle's naming (gates i, f, c, o)."""
  kernel, recurrent, bias = [w.numpy() for w in gen.cell.weights]
  out = {"emb": gen.embedding.embeddings.numpy(),
         "Wo": gen.output_layer.kernel.numpy(),
         "bo": gen.output_layer.bias.numpy()}
  for k, gate in enumerate(("i", "f", "c", "og")):
    cols = slice(k * gen.hidden_dim, (k + 1) * gen.hidden_dim)
    out[f"W{gate}"], out[f"U{gate}"], out[f"b{gate}"] = (
        kernel[:, cols], recurrent[:, cols], bias[cols])
  return out


class GeneratorTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.gen = Generator(vocab_size=13, emb_dim=4, hidden_dim=6, seq_length=5,
                         start_token=2, init_stddev=0.5, seed=1)

  def test_log_probs_equal_numpy_lstm(self):
    tokens = np.random.default_rng(1).integers(0, 13, [4, 5])
    expected = numpy_oracle_log_probs(generator_params_by_name(self.gen),
                                      tokens, start_token=2)
    self.assertAllClose(self.gen.log_probs(tf.constant(tokens, tf.int32)),
                        expected, atol=1e-5)

  def test_output_layer_gradient_equals_numpy_softmax_gradient(self):
    """The hand-written gradient of the fused head against NumPy: for
    loss = sum_r w_r log softmax(h W + b)[y_r], d logits = w (one_hot - p)."""
    rng = np.random.default_rng(3)
    h = rng.normal(size=[7, 6]).astype(np.float32)
    targets = rng.integers(0, 13, [7]).astype(np.int32)
    weights = rng.normal(size=[7]).astype(np.float32)
    kernel, bias = (v.numpy() for v in self.gen.output_layer.weights)
    logits = h @ kernel + bias
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d_logits = weights[:, None] * (np.eye(13)[targets] - p)
    h_t = tf.constant(h)
    for run in (lambda f: f(), tf.function(lambda f: f())):
      with tf.GradientTape() as tape:
        tape.watch(h_t)
        log_probs = output_log_probs(h_t, self.gen.output_layer.kernel,
                                     self.gen.output_layer.bias,
                                     tf.constant(targets))
        loss = tf.reduce_sum(weights * log_probs)
      grads = run(lambda: tape.gradient(
          loss, [h_t] + self.gen.output_layer.trainable_variables))
      self.assertAllClose(log_probs, np.log(p[np.arange(7), targets]),
                          atol=1e-5)
      self.assertAllClose(grads[0], d_logits @ kernel.T, atol=1e-5)
      self.assertAllClose(grads[1], h.T @ d_logits, atol=1e-5)
      self.assertAllClose(grads[2], d_logits.sum(0), atol=1e-5)

  def test_log_probs_gradients_equal_with_and_without_xla(self):
    tokens = tf.constant(np.random.default_rng(4).integers(0, 13, [9, 5]),
                         tf.int32)
    weights = tf.constant(np.random.default_rng(5).normal(size=[9, 5]),
                          tf.float32)
    grads = []
    for use_xla in (True, False):
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(weights * self.gen.log_probs(tokens, use_xla))
      grads.append(tape.gradient(loss, self.gen.trainable_variables))
    for fused, plain in zip(*grads):
      self.assertAllClose(tf.convert_to_tensor(fused),
                          tf.convert_to_tensor(plain), atol=1e-5)

  def test_log_probs_chunking_does_not_change_values(self):
    # Batch 300 puts one timestep per logits chunk; batch 3 puts all in one.
    tokens = np.random.default_rng(2).integers(0, 13, [300, 5])
    many = self.gen.log_probs(tf.constant(tokens, tf.int32))
    few = self.gen.log_probs(tf.constant(tokens[:3], tf.int32))
    self.assertAllClose(many[:3], few, atol=1e-6)

  def test_initialisation_is_normal_with_given_stddev(self):
    gen = Generator(64, 32, 32, 5, init_stddev=0.1, seed=0)
    for w in gen.weights:
      self.assertNear(float(np.std(w.numpy())), 0.1, 0.02)
      self.assertNear(float(np.mean(w.numpy())), 0.0, 0.02)


class DiscriminatorTest(tf.test.TestCase):

  def test_parameter_count_equals_paper_architecture(self):
    vocab, emb = 5000, 64
    widths = config_lib.PAPER_FILTER_SIZES
    counts = config_lib.PAPER_NUM_FILTERS
    dis = Discriminator(vocab, emb, widths, counts)
    features = sum(counts)  # 1,720
    expected = (vocab * emb                                    # embedding
                + sum(w * emb * n + n for w, n in zip(widths, counts))  # convs
                + 2 * (features * features + features)         # highway
                + features * 2 + 2)                            # output layer
    self.assertEqual(features, 1720)
    self.assertEqual(dis.count_params(), expected)
    self.assertEqual(expected, 7_045_402)

  def test_dropout_only_when_training_and_keyed_by_seed(self):
    dis = Discriminator(20, 8, [1, 2], [5, 5], dropout_keep=0.5, seed=0)
    tokens = tf.constant(np.random.default_rng(0).integers(0, 20, [6, 4]),
                         tf.int32)
    self.assertAllEqual(dis(tokens), dis(tokens))
    a = dis(tokens, training=True, dropout_seed=[1, 2])
    self.assertAllEqual(a, dis(tokens, training=True, dropout_seed=[1, 2]))
    self.assertNotAllClose(a, dis(tokens, training=True, dropout_seed=[1, 3]))
    self.assertNotAllClose(a, dis(tokens))

  def test_prob_real_is_softmax_of_second_logit(self):
    dis = Discriminator(20, 8, [1, 3], [4, 4], seed=0)
    tokens = tf.constant([[1, 2, 3, 4], [5, 6, 7, 8]], tf.int32)
    logits = dis(tokens).numpy()
    expected = 1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1]))
    self.assertAllClose(dis.prob_real(tokens), expected, atol=1e-6)

  def test_l2_is_authors_lambda_times_half_sum_of_squares(self):
    dis = Discriminator(20, 8, [1], [3], l2=0.2, seed=0)
    w, b = [v.numpy() for v in dis.output_layer.weights]
    self.assertNear(float(dis.l2_loss()),
                    0.2 * 0.5 * (np.sum(w**2) + np.sum(b**2)), 1e-6)

  def test_bfloat16_compute_keeps_float32_weights_and_outputs(self):
    """bfloat16 D: the same float32 variables (checkpoints interchangeable),
    float32 logits within bfloat16 rounding of float32 D's, and float32
    gradients pointing the same way."""
    kwargs = dict(vocab_size=50, emb_dim=16, filter_sizes=[2, 3],
                  num_filters=[32, 32], seed=3)
    f32 = Discriminator(**kwargs)
    bf16 = Discriminator(**kwargs, compute_dtype="bfloat16")
    for a, b in zip(f32.weights, bf16.weights):
      self.assertEqual(b.dtype, tf.float32)
      self.assertAllEqual(a, b)
    tokens = tf.constant(np.random.default_rng(1).integers(0, 50, [16, 6]),
                         tf.int32)
    labels = tf.constant([0, 1] * 8)
    outputs = []
    for dis in (f32, bf16):
      with tf.GradientTape() as tape:
        logits = dis(tokens, training=True, dropout_seed=[4, 5])
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
      grads = tape.gradient(loss, dis.trainable_variables)
      outputs.append((logits, [tf.convert_to_tensor(g) for g in grads]))
    (logits32, grads32), (logits16, grads16) = outputs
    self.assertEqual(logits16.dtype, tf.float32)
    # bfloat16 keeps 8 bits of mantissa: ~0.4% per rounding.
    self.assertAllClose(logits32, logits16, atol=0.05, rtol=0.05)
    for g32, g16 in zip(grads32, grads16):
      self.assertEqual(g16.dtype, tf.float32)
      cosine = tf.reduce_sum(g32 * g16) / (tf.norm(g32) * tf.norm(g16))
      self.assertGreater(float(cosine), 0.98)

  def test_logits_and_gradients_equal_numpy_and_conv1d(self):
    """Widths 1-2 run as convolutions and 6-8 (few positions at length 8) as
    one matmul over windows: the logits equal a NumPy forward pass of the
    paper's D, and the gradients equal those of plain Conv1D layers."""
    widths, counts = [1, 2, 6, 7, 8], [3, 4, 5, 3, 2]
    dis = Discriminator(30, 4, widths, counts, seed=5)
    tokens = np.random.default_rng(2).integers(0, 30, [5, 8])
    x = dis.embedding.embeddings.numpy()[tokens]               # [b, T, emb]
    pooled = []
    for conv in dis.convs:
      kernel, bias = conv.kernel.numpy(), conv.bias.numpy()    # [w, emb, n]
      w = kernel.shape[0]
      y = np.stack([np.einsum("bwe,wen->bn", x[:, t:t + w], kernel)
                    for t in range(8 - w + 1)], 1) + bias
      pooled.append(np.maximum(y, 0).max(1))
    pooled = np.concatenate(pooled, 1)
    (wt, bt), (wg, bg) = (
        [v.numpy() for v in layer.weights]
        for layer in (dis.highway_transform, dis.highway_gate))
    gate = 1 / (1 + np.exp(-(pooled @ wg + bg)))
    features = gate * np.maximum(pooled @ wt + bt, 0) + (1 - gate) * pooled
    wo, bo = [v.numpy() for v in dis.output_layer.weights]
    self.assertAllClose(dis(tf.constant(tokens)), features @ wo + bo,
                        atol=1e-5)

    def grads():
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(dis(tf.constant(tokens)) * [[1.0, -2.0]])
      return tape.gradient(loss, dis.trainable_variables)

    fast = grads()
    dis._conv_max = lambda conv, x: tf.reduce_max(conv(x), axis=1)
    for a, b in zip(fast, grads()):
      self.assertAllClose(tf.convert_to_tensor(a), tf.convert_to_tensor(b),
                          atol=1e-5)

  def test_max_over_time_makes_it_length_independent_in_shape(self):
    dis = Discriminator(20, 8, [1, 2], [3, 3], seed=0)
    self.assertEqual(dis(tf.zeros([2, 7], tf.int32)).shape, (2, 2))



class KerasFileTest(tf.test.TestCase):
  """G and D as `.keras` files: get_config plus registration."""

  def test_save_and_load_model_round_trip(self):
    import keras  # pylint: disable=g-import-not-at-top
    from seqgan_tf.modeling import sampler  # pylint: disable=g-import-not-at-top
    folder = self.create_tempdir().full_path
    g = Generator(11, 4, 6, 5, start_token=1, init_stddev=0.5, seed=3)
    d = Discriminator(11, 4, [1, 2], [3, 3], seed=5, end_token=2)
    g.save(f"{folder}/g.keras")
    d.save(f"{folder}/d.keras")
    g2 = keras.saving.load_model(f"{folder}/g.keras")
    d2 = keras.saving.load_model(f"{folder}/d.keras")
    self.assertIsInstance(g2, Generator)
    self.assertIsInstance(d2, Discriminator)
    self.assertEqual(g2.get_config(), g.get_config())
    seed = tf.constant([1, 2])
    self.assertAllEqual(sampler.sample(g2, 8, seed), sampler.sample(g, 8, seed))
    tokens = tf.constant(np.random.default_rng(0).integers(0, 11, (4, 5)),
                         tf.int32)
    self.assertAllEqual(d2(tokens), d(tokens))
    self.assertEqual(d2.end_token, 2)       # what D reads after </s> kept


if __name__ == "__main__":
  tf.test.main()
