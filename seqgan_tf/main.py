"""Entry point: `python -m seqgan_tf.main --task=synthetic --workdir=DIR`.

The only module that reads flags; it builds a Config and hands it on.
"""

import sys

from absl import app, flags, logging

from seqgan_tf import config as config_lib

config_lib.define_flags()
FLAGS = flags.FLAGS

# Exit codes: 2 bad flags/config, 3 bad input data, 4 training diverged.
EXIT_CONFIG, EXIT_DATA, EXIT_DIVERGED = 2, 3, 4


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    config = config_lib.config_from_flags(FLAGS)
  except config_lib.ConfigError as e:
    logging.error("%s", e)
    return EXIT_CONFIG
  if not FLAGS.workdir:
    logging.error("--workdir is required: the folder for checkpoints, "
                  "TensorBoard events and samples.")
    return EXIT_CONFIG

  # Imported here so that --help and flag errors do not pay for TensorFlow.
  from seqgan_tf import input_pipeline, oracle, train  # pylint: disable=g-import-not-at-top
  try:
    train.train_and_evaluate(config, FLAGS.workdir)
  except config_lib.ConfigError as e:
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
