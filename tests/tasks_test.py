"""Text-task evaluation pieces by hand, and `--task=text` end to end."""

import json
import os

import numpy as np
import tensorflow as tf

from main_test import read_events, run_main
from seqgan_tf import tasks
from seqgan_tf.data import tokenizer
from seqgan_tf.data.tokenizer import Vocabulary
from seqgan_tf.modeling import Generator, through_end

WORDS = {"adj": ["big", "small", "red", "old"],
         "noun": ["dog", "cat", "car", "tree"],
         "verb": ["runs", "sleeps", "waits"]}


def write_corpus(path, lines=200, seed=0, words=WORDS):
  rng = np.random.default_rng(seed)
  with open(path, "w") as f:
    for _ in range(lines):
      f.write(f"the {rng.choice(words['adj'])} {rng.choice(words['noun'])} "
              f"{rng.choice(words['verb'])} .\n")


class EvaluationPiecesTest(tf.test.TestCase):

  def test_through_end_marks_tokens_up_to_first_end(self):
    ids = np.array([[5, 6, 2, 0, 0], [5, 2, 7, 2, 0], [5, 6, 7, 8, 9]])
    self.assertAllEqual(through_end(ids, tokenizer.END_ID),
                        [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])

  def test_nll_test_is_the_mean_over_tokens_through_end(self):
    task = tasks.TextTask.__new__(tasks.TextTask)   # only what nll_test reads
    end = tokenizer.END_ID
    task.test = np.array([[5, 6, end, 0, 0], [5, end, 7, end, 0],
                          [5, 6, 7, 8, 9]], np.int32)
    task._log_probs = lambda g, t: g.log_probs(t)
    g = Generator(10, 4, 4, 5, tokenizer.START_ID)
    log_probs = g.log_probs(tf.constant(task.test)).numpy().astype(np.float64)
    live = [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]  # 10 tokens
    expected = -log_probs[np.array(live, bool)].sum() / 10
    self.assertNear(task.nll_test(g), expected, 1e-5)

  def test_pitch_mse_by_hand(self):
    vocab = Vocabulary(list(tokenizer.RESERVED) + ["p60", "p62", "rest"],
                       "space")
    p60, p62, rest = 4, 5, 6
    samples = np.array([[rest, p62, rest], [p60, p60, p60]])
    test = np.array([[p60, p60, p62], [p62, p62, p62]])
    # Sample 1 -> 62 62 62 (a leading rest takes the first pitch): matches
    # test 2 exactly. Sample 2 -> 60 60 60: test 1 differs by (0, 0, 2^2)/3.
    self.assertAllClose(tasks.pitch_mse(vocab, samples, test),
                        [0.0, 4.0 / 3], atol=1e-9)


class TextTaskEndToEndTest(tf.test.TestCase):

  def test_tiny_run_on_written_corpus_then_vocab_mismatch(self):
    tmp = self.create_tempdir().full_path
    corpus = os.path.join(tmp, "corpus.txt")
    write_corpus(corpus)
    workdir = os.path.join(tmp, "run")
    flags = ["--flagfile=flags/text_smoke.flags", f"--train_file={corpus}",
             f"--tfds_dir={tmp}/tfds", "--pretrain_gen_epochs=3",
             "--eval_every=1"]
    code, out = run_main(workdir, *flags)
    self.assertEqual(code, 0, out)
    self.assertIn("unknown rate 0.00%", out)
    with open(os.path.join(workdir, "results.json")) as f:
      results = json.load(f)
    for key in ("bleu2", "bleu3", "self_bleu2", "self_bleu3", "nll_test"):
      self.assertBetween(results[key], 0.0, 10.0, msg=key)
    scores = np.load(os.path.join(workdir, "final_scores.npz"))
    self.assertEqual(scores["bleu2"].shape, (64,))    # --eval_samples
    self.assertNear(float(scores["bleu2"].mean()), results["bleu2"], 1e-9)
    self.assertNear(results["bleu2_stderr"],
                    scores["bleu2"].std() / np.sqrt(64), 1e-9)
    vocab = Vocabulary.load(os.path.join(workdir, "vocab.txt"))
    self.assertLen(vocab, 4 + 4 + 4 + 3 + 2)       # reserved + words + the .

    with open(os.path.join(workdir, "eval_metrics.jsonl")) as f:
      evals = [json.loads(line) for line in f]
    self.assertLess(evals[3]["nll_test"], evals[0]["nll_test"])  # MLE learns
    events = read_events(workdir)
    self.assertIn("bleu2", events)
    sample = events["samples"][-1][1].reshape(-1)[0].decode()
    self.assertTrue(set(sample.split()) <= set(vocab.tokens), sample)

    # The same workdir with another corpus: its vocabulary does not match.
    write_corpus(corpus, words={**WORDS, "noun": ["bird", "fish"]})
    code, out = run_main(workdir, *flags)
    self.assertEqual(code, 2, out)
    self.assertIn("vocab.txt does not match the vocabulary", out)

    # A damaged vocabulary: one clear error naming it, the file kept.
    vocab_path = os.path.join(workdir, "vocab.txt")
    with open(vocab_path, "wb") as f:
      f.write(b"\xff\xfe not utf-8")
    code, out = run_main(workdir, *flags)
    self.assertEqual(code, 2, out)
    self.assertIn(f"{vocab_path} is unreadable", out)
    self.assertNotIn("Traceback", out)
    with open(vocab_path, "rb") as f:
      self.assertEqual(f.read(), b"\xff\xfe not utf-8")


if __name__ == "__main__":
  tf.test.main()
