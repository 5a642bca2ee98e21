"""Entry point: `python -m seqgan_tf.main --task=synthetic --workdir=DIR`.

Modes: train (then export), export, sample (from a SavedModel).

The only module that reads flags; it builds a Config and hands it on.
"""

import sys

from absl import app, flags, logging

from seqgan_tf import config as config_lib

config_lib.define_flags()
FLAGS = flags.FLAGS

# Exit codes: 2 bad flags/config, 3 bad input data, 4 training diverged.
EXIT_CONFIG, EXIT_DATA, EXIT_DIVERGED = 2, 3, 4


def sample_from_savedmodel() -> int:
  """--mode=sample: the SavedModel alone (no checkpoint, no training code)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from seqgan_tf import export  # pylint: disable=g-import-not-at-top
  if not FLAGS.export_dir:
    logging.error("--mode=sample needs --export_dir=WORKDIR/export/<model>.")
    return EXIT_CONFIG
  try:
    model = export.load(FLAGS.export_dir)
  except export.ExportError as e:
    logging.error("%s", e)
    return EXIT_DATA
  n = FLAGS.num_samples
  seed = tf.range(FLAGS.seed, FLAGS.seed + n, dtype=tf.int64)
  temperature = tf.fill([n], tf.constant(FLAGS.temperature, tf.float32))
  try:
    if FLAGS.prefix:
      out = model.signatures["complete"](
          prefix=tf.fill([n], FLAGS.prefix), seed=seed, temperature=temperature)
    else:
      out = model.signatures["serving_default"](seed=seed,
                                                temperature=temperature)
  except tf.errors.InvalidArgumentError as e:
    logging.error("%s", e.message.split("\n")[0])
    return EXIT_DATA
  for text in out["text"].numpy():
    print(text.decode("utf-8"))  # the product of this mode: text on stdout
  return 0


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    config = config_lib.config_from_flags(FLAGS)
  except config_lib.ConfigError as e:
    logging.error("%s", e)
    return EXIT_CONFIG
  if FLAGS.mode == "sample":
    return sample_from_savedmodel()
  if not FLAGS.workdir:
    logging.error("--workdir is required: the folder for checkpoints, "
                  "TensorBoard events and samples.")
    return EXIT_CONFIG

  # Imported here so that --help and flag errors do not pay for TensorFlow.
  from seqgan_tf import input_pipeline, oracle, tokenizer, train  # pylint: disable=g-import-not-at-top
  try:
    if FLAGS.mode == "export":
      train.export_from_workdir(config, FLAGS.workdir)
    else:
      train.train_and_evaluate(config, FLAGS.workdir)
  except (config_lib.ConfigError, tokenizer.VocabularyError) as e:
    logging.error("%s", e)
    return EXIT_CONFIG
  except (input_pipeline.DataError, oracle.OracleError) as e:
    logging.error("%s", e)
    return EXIT_DATA
  except train.TrainingDivergedError as e:
    logging.error("%s", e)
    return EXIT_DIVERGED
  return 0


if __name__ == "__main__":
  sys.exit(app.run(main))
