"""--task=text sized from the corpus, on generated corpora whose length and
token distributions are known; flags win."""

import collections
import functools
import os

import numpy as np
import tensorflow as tf
from absl import flags

from seqgan_tf import cli_flags
from seqgan_tf.data import sizing


def zipf_corpus(path, lines=2000, types=400, seed=0):
  """Lines of 1-40 words (uniform), words w0..w{types-1} with p ~ 1/(i+1)."""
  rng = np.random.default_rng(seed)
  p = 1.0 / np.arange(1, types + 1)
  p /= p.sum()
  lengths = rng.integers(1, 41, lines)
  rows = [" ".join(f"w{i}" for i in rng.choice(types, n, p=p))
          for n in lengths]
  with open(path, "w") as f:
    f.write("\n".join(rows) + "\n")
  return rows


def text_config(path, *extra):
  """The Config `seqgan --task=text --train_file=path *extra` would run."""
  values = flags.FlagValues()
  cli_flags.define_flags(values)
  values(["prog", "--task=text", f"--train_file={path}", *extra])
  return cli_flags.config_from_flags(values)


class SizingTest(tf.test.TestCase):

  def test_length_cuts_at_most_three_percent_and_no_shorter_would(self):
    lengths = np.random.default_rng(1).integers(2, 60, 5000)
    length = sizing.length_for(list(lengths))
    self.assertLessEqual((lengths > length).mean(), sizing.MAX_CUT)
    self.assertGreater((lengths > length - 1).mean(), sizing.MAX_CUT)
    self.assertEqual(sizing.length_for([3] * 100 + [500]), 3)  # 1% outliers cut
    self.assertEqual(sizing.length_for([90] * 10), sizing.MAX_LENGTH)

  def test_vocabulary_is_the_fewest_tokens_covering_97_percent(self):
    counts = collections.Counter({f"t{i}": 1000 // (i + 1)
                                  for i in range(300)})
    ranked = np.sort(np.array(list(counts.values())))[::-1]
    share = np.cumsum(ranked) / ranked.sum()
    fewest = int(np.argmax(share >= sizing.MIN_COVERAGE)) + 1
    self.assertEqual(sizing.vocab_for(counts), fewest + 4)   # + reserved ids
    self.assertLess(share[fewest - 2], sizing.MIN_COVERAGE)

  def test_config_from_flags_sizes_a_new_corpus_and_flags_win(self):
    folder = self.create_tempdir().full_path
    path = os.path.join(folder, "zipf.txt")
    rows = zipf_corpus(path)
    train = [r for i, r in enumerate(rows) if i % 10 != 9]    # held out: 1/10
    lengths = np.array([len(r.split()) + 1 for r in train])   # + </s>

    config = functools.partial(text_config, path)
    sized = config()
    self.assertLessEqual((lengths > sized.seq_length).mean(), sizing.MAX_CUT)
    self.assertBetween(sized.seq_length, 38, 41)       # ~97th pct of 2..41
    counts = collections.Counter(w for r in train for w in r.split())
    self.assertEqual(sized.vocab_size, sizing.vocab_for(counts))
    self.assertLess(sized.vocab_size, 400 + 4)         # not every type needed
    self.assertEqual((sized.gen_emb_dim, sized.gen_hidden_dim), (32, 32))
    tokens = int(lengths.sum() - len(lengths))
    self.assertEqual(sized.pretrain_gen_epochs,
                     min(30, max(5, round(sizing.MLE_TOKENS / tokens))))
    self.assertEqual(sized.adv_iterations, 15)         # the hour schedule
    self.assertEqual(sized.time_budget_minutes, 60.0)  # fitted at start-up
    mine = config("--seq_length=12", "--vocab_size=50")
    self.assertEqual((mine.seq_length, mine.vocab_size), (12, 50))
    self.assertEqual(mine.gen_emb_dim, 32)              # the rest still sized
    # A schedule given is not fitted, unless a budget is given too.
    self.assertEqual(config("--adv_iterations=40").time_budget_minutes, 0.0)
    self.assertEqual(config("--pretrain_gen_epochs=9", "--time_budget_minutes"
                            "=30").time_budget_minutes, 30.0)

  def test_paragraph_lines_are_split_into_sentences(self):
    # Each line: 4-12 sentences of 3-20 words (so most lines are longer than
    # MAX_LENGTH = 64 tokens, no sentence is).
    rng = np.random.default_rng(1)
    lines = [" ".join(" ".join(f"w{rng.integers(50)}"
                               for _ in range(rng.integers(3, 21))) + "."
                      for _ in range(rng.integers(4, 13)))
             for _ in range(300)]
    path = os.path.join(self.create_tempdir().full_path, "speeches.txt")
    with open(path, "w") as f:
      f.write("\n".join(lines) + "\n")

    config = functools.partial(text_config, path)
    sized = config()
    self.assertEqual(sized.text_unit, "sentence")
    self.assertBetween(sized.seq_length, 19, 22)   # 3-20 words, ".", </s>
    as_lines = config("--text_unit=line")            # given: kept
    self.assertEqual((as_lines.text_unit, as_lines.seq_length),
                     ("line", sizing.MAX_LENGTH))


if __name__ == "__main__":
  tf.test.main()
