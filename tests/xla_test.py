"""XLA against graph mode: the roll-out, every method's step, and a run.

XLA draws other random numbers than graph mode for the same stateless seed
(TensorFlow 2.21 on CPU), so the two are compared as estimates of the same expectation:
per prefix length, the mean score of the completions must agree within five
standard errors of a two-sample test, and the policy gradients they give on
the same tokens must point the same way.
"""

import numpy as np
import tensorflow as tf

import step_cases
from conftest import smoke_config
from seqgan_tf.modeling import Generator, rollout
from seqgan_tf.modeling import losses
from seqgan_tf.training import loop
from seqgan_tf.training.state import SeqGAN

VOCAB, LENGTH, BATCH, ROLLOUTS = 6, 5, 8, 256


def score_fn(tokens):
  """A fixed 'discriminator': the share of token 3 in a sequence, [n]."""
  return tf.reduce_mean(tf.cast(tf.equal(tokens, 3), tf.float32), axis=1)


def completions(jit):
  policy = Generator(VOCAB, 4, 8, seq_length=LENGTH, seed=1, init_stddev=0.7)
  tokens = tf.constant(np.random.default_rng(0).integers(
      0, VOCAB, [BATCH, LENGTH], np.int32))
  fn = tf.function(lambda t, s: rollout.completions(policy, t, ROLLOUTS, s),
                   jit_compile=jit, autograph=False)
  return tokens, fn(tokens, tf.constant([3, 4])).numpy()


class XlaRolloutTest(tf.test.TestCase):

  def test_completions_keep_prefixes_and_agree_in_distribution(self):
    tokens, graph = completions(jit=False)
    _, xla = completions(jit=True)
    self.assertEqual(graph.shape, (LENGTH - 1, ROLLOUTS, BATCH, LENGTH))
    self.assertEqual(xla.shape, graph.shape)
    for t in range(1, LENGTH):                  # prefixes are Y's, exactly
      for done in (graph, xla):
        self.assertAllEqual(done[t - 1, :, :, :t],
                            np.broadcast_to(tokens[:, :t],
                                            (ROLLOUTS, BATCH, t)))
    self.assertNotAllEqual(graph, xla)          # other draws, as documented
    a = (graph == 3).mean(-1).reshape(LENGTH - 1, -1)  # score per completion
    b = (xla == 3).mean(-1).reshape(LENGTH - 1, -1)
    stderr = np.sqrt(a.var(1) / a.shape[1] + b.var(1) / b.shape[1])
    gap = np.abs(a.mean(1) - b.mean(1))
    self.assertTrue(np.all(gap < 5 * stderr), f"gap {gap}, stderr {stderr}")
    self.assertTrue(np.all(stderr > 0))         # the test is not vacuous

  def test_rewards_and_update_direction_agree(self):
    policy = Generator(VOCAB, 4, 8, seq_length=LENGTH, seed=1, init_stddev=0.7)
    tokens = tf.constant(np.random.default_rng(0).integers(
        0, VOCAB, [BATCH, LENGTH], np.int32))
    rewards = {jit: tf.function(
        lambda t, s: rollout.rewards(policy, score_fn, t, ROLLOUTS, s),
        jit_compile=jit, autograph=False)(tokens, tf.constant([5, 6]))
               for jit in (False, True)}
    self.assertEqual(rewards[True].shape, (BATCH, LENGTH))
    self.assertAllClose(rewards[True][:, -1], score_fn(tokens))  # Q_T = D(Y)
    self.assertAllClose(rewards[True], rewards[False], atol=0.1)
    grads = []
    for jit in (False, True):
      with tf.GradientTape() as tape:
        loss = losses.policy_gradient_loss(policy.log_probs(tokens),
                                          rewards[jit])
      grads.append(tf.concat([tf.reshape(tf.convert_to_tensor(g), [-1]) for g
                              in tape.gradient(loss, policy.trainable_variables)],
                             0).numpy())
    cosine = grads[0] @ grads[1] / np.linalg.norm(grads[0]) / np.linalg.norm(
        grads[1])
    self.assertGreater(cosine, 0.95)


class XlaEveryMethodTest(tf.test.TestCase):
  """One G step of each method compiled, on the synthetic and a text task."""

  def test_each_method_compiles_and_matches_graph_mode(self):
    for method, task in step_cases.CASES:
      with self.subTest(f"{method}/{task}"):
        runs = {}
        for jit in ("off", "on"):
          model = step_cases.build(method, task, jit=jit)
          self.assertEqual(model.jit, jit == "on")
          before = step_cases.generator_weights(model)
          metrics = step_cases.run_steps(model, method, task, steps=1)
          after = step_cases.generator_weights(model)
          self.assertTrue(all(np.isfinite(v) for v in metrics.values()))
          self.assertTrue(any(np.any(a != b) for a, b in zip(before, after)))
          runs[jit] = metrics, after
        (graph, graph_weights), (xla, xla_weights) = runs["off"], runs["on"]
        if method == "mle":           # no random draw: the same update
          for a, b in zip(graph_weights, xla_weights):
            self.assertAllClose(a, b, atol=1e-5)
        elif method == "ss":          # other coins, the same loss nearly
          self.assertAllClose(xla["mle_loss"], graph["mle_loss"], rtol=0.02)
        else:                         # other samples: rewards are P or BLEU
          for metrics in (graph, xla):
            self.assertBetween(metrics["reward_mean"], 0.0, 1.0)
            self.assertGreater(metrics["grad_norm"], 0.0)


class XlaRunTest(tf.test.TestCase):

  def test_smoke_run_with_every_step_compiled(self):
    config = smoke_config(jit_compile="on")
    model = SeqGAN(config)
    self.assertTrue(model.jit)
    self.assertFalse(SeqGAN(smoke_config(jit_compile="auto")).jit
                     and not tf.config.list_physical_devices("GPU"))
    results = loop.train_and_evaluate(config,
                                       self.create_tempdir().full_path)
    self.assertBetween(results["nll_oracle"], 0.5, np.log(32) * 1.5)


if __name__ == "__main__":
  tf.test.main()
