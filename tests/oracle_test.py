"""The oracle against the authors' equations and the paper's reference NLLs."""

import pickle

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from conftest import numpy_oracle_log_probs, shared_file
from seqgan_tf.data import input_pipeline, oracle
from seqgan_tf.modeling import sampler


class OracleTest(tf.test.TestCase, parameterized.TestCase):

  def test_log_probs_match_numpy_reference_of_authors_equations(self):
    params = oracle.random_params(vocab=17, emb=4, hidden=5, seed=3)
    model = oracle.build_oracle(params, seq_length=6, start_token=0)
    tokens = np.random.default_rng(0).integers(0, 17, [3, 6])
    expected = numpy_oracle_log_probs(params, tokens)
    self.assertAllClose(model.log_probs(tf.constant(tokens, tf.int32)),
                        expected, atol=1e-5)

  def test_random_oracle_is_seeded_standard_normal(self):
    a = oracle.random_params(50, 8, 8, seed=1)
    b = oracle.random_params(50, 8, 8, seed=1)
    self.assertAllEqual(a["Wo"], b["Wo"])
    self.assertNear(float(np.std(a["emb"])), 1.0, 0.1)

  @parameterized.named_parameters(
      ("wrong_shape", lambda p: p[:1] + [np.zeros([3, 3], np.float32)] + p[2:],
       "Wi has shape"),
      ("too_few", lambda p: p[:14], "expected a list of 15"),
  )
  def test_malformed_pickle_is_a_clear_error(self, mutate, message):
    params = oracle.random_params(11, 4, 4, seed=0)
    arrays = mutate([params[n] for n in oracle.PARAM_NAMES])
    path = self.create_tempfile("bad.pkl").full_path
    with open(path, "wb") as f:
      pickle.dump(arrays, f)
    with self.assertRaisesRegex(oracle.OracleError, message):
      oracle.load_params(path, 11, 4, 4)

  def test_missing_and_non_pickle_files_are_clear_errors(self):
    with self.assertRaisesRegex(oracle.OracleError, "cannot read"):
      oracle.load_params("/nonexistent/params.pkl", 11, 4, 4)
    path = self.create_tempfile("text.pkl", content="not a pickle").full_path
    with self.assertRaisesRegex(oracle.OracleError, "not a parameter pickle"):
      oracle.load_params(path, 11, 4, 4)


class PaperOracleTest(tf.test.TestCase):
  """The paper's oracle file, checked against numbers computed elsewhere."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.params = oracle.load_params(
        shared_file("synthetic", "target_params_py3.pkl"), 5000, 32, 32)
    cls.model = oracle.build_oracle(cls.params, 20, 0)
    cls.nll = staticmethod(tf.function(
        lambda s: tf.reduce_mean(oracle.nll(cls.model, s))))

  def test_real_data_nll_matches_float64_reference(self):
    real = input_pipeline.read_token_file(
        shared_file("synthetic", "real_data.txt"), 5000, 20)
    # 5.7609: the float64 NumPy value of these equations (computed once from the authors' parameters).
    self.assertNear(float(self.nll(tf.constant(real))), 5.7609, 1e-3)
    # And our step equals the NumPy reference on a few of those rows.
    self.assertAllClose(self.model.log_probs(tf.constant(real[:4])),
                        numpy_oracle_log_probs(self.params, real[:4]),
                        atol=1e-4)

  def test_nll_of_own_samples_and_of_uniform_tokens(self):
    samples = tf.function(lambda seed: sampler.sample_many(
        self.model, 9984, seed))(tf.constant([5, 6]))
    # The authors' code reports 5.763 on 9,984 oracle samples.
    self.assertNear(float(self.nll(samples)), 5.763, 0.03)
    uniform = np.random.default_rng(0).integers(0, 5000, [9984, 20])
    self.assertNear(float(self.nll(tf.constant(uniform, tf.int32))), 11.43,
                    0.05)


if __name__ == "__main__":
  tf.test.main()


class NllTestTest(tf.test.TestCase):

  def test_nll_test_is_generators_nll_of_held_out_oracle_samples(self):
    from conftest import smoke_config  # pylint: disable=g-import-not-at-top
    from seqgan_tf import tasks
    config = smoke_config()
    task = tasks.build(config, self.create_tempdir().full_path)
    # G = the oracle itself: its NLL-test is the oracle's NLL of its own
    # held-out samples, and no row of them is in the training set.
    metrics, _, _ = task.evaluate(task.oracle, tf.constant([1, 2]), False)
    self.assertNear(metrics["nll_test"],
                    float(tf.reduce_mean(oracle.nll(task.oracle, task.test))),
                    1e-5)
    train_rows = {tuple(r) for r in task.real}
    held_out = [tuple(r) for r in task.test.numpy()]
    self.assertLess(sum(r in train_rows for r in held_out),
                    0.1 * len(held_out))         # another draw than the data
