"""Entry point: the `seqgan` command, or `python -m seqgan_tf.main`.

  seqgan --task=obama                 # train, then export (modes: --mode)
  seqgan --preset=smoke               # a shipped flagfile (presets.py)
  seqgan compare|report|sweep ...     # read finished runs (analysis/)
  seqgan --version

The only module that reads the training flags; it builds a Config and hands
it on. With an existing workdir, flags not given take the values of the run
saved there.
"""

import importlib
import importlib.util
import os
import signal
import sys

from absl import app, flags, logging

from seqgan_tf import __version__, cli_flags, config as config_lib, presets

cli_flags.define_flags()
# The flags are defined in cli_flags.py; adopting them makes `--help` list them.
flags.adopt_module_key_flags(cli_flags)
FLAGS = flags.FLAGS

# Exit codes: 2 bad flags/config/workdir, 3 bad input data, 4 training
# diverged; 128 + the signal's number (130 Ctrl-C, 143 SIGTERM) when a stop
# signal was handled and a checkpoint written (the shell's codes for those
# signals, so job schedulers see an unfinished run and retry it).
EXIT_CONFIG, EXIT_DATA, EXIT_DIVERGED = 2, 3, 4


def sample_from_savedmodel(export_dir: str) -> int:
  """--mode=sample: the SavedModel alone (no checkpoint, no training code)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from seqgan_tf import export
  try:
    model = export.load(export_dir)
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
      unknown = int(out["prefix_unknown"][0])
      if unknown:
        logging.warning("%d token(s) of --prefix are outside the model's "
                        "vocabulary and were read as <unk>.", unknown)
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
  if FLAGS.mode == "sample" and FLAGS.export_dir and not FLAGS.workdir:
    return sample_from_savedmodel(FLAGS.export_dir)
  workdir_path = FLAGS.workdir or cli_flags.default_workdir(FLAGS)
  if not FLAGS.workdir:
    logging.info("Run folder: %s (no --workdir given).", workdir_path)

  # Imported here so that --help and flag errors do not pay for TensorFlow.
  from seqgan_tf import export
  from seqgan_tf.data import input_pipeline, oracle, tokenizer
  from seqgan_tf.training import loop, workdir
  try:
    config = cli_flags.config_from_flags(
        FLAGS, workdir.saved_config(workdir_path))
    if FLAGS.mode == "sample":
      return sample_from_savedmodel(FLAGS.export_dir or os.path.join(
          workdir_path, "export", config.export_name))
    if FLAGS.mode == "export":
      export.export_from_workdir(config, workdir_path)
    else:
      loop.train_and_evaluate(config, workdir_path)
  except (config_lib.ConfigError, tokenizer.VocabularyError) as e:
    logging.error("%s", e)
    return EXIT_CONFIG
  except (input_pipeline.DataError, oracle.OracleError) as e:
    logging.error("%s", e)
    return EXIT_DATA
  except loop.TrainingDivergedError as e:
    logging.error("%s", e)
    return EXIT_DIVERGED
  except loop.StoppedError as e:
    logging.warning("%s", e)
    return 128 + int(getattr(signal, e.signal_name))
  return 0


COMMANDS = {"compare": "seqgan_tf.analysis.compare",
            "report": "seqgan_tf.analysis.report",
            "sweep": "seqgan_tf.analysis.sweep"}
NO_TENSORFLOW = ("seqgan_tf needs TensorFlow, which is not installed: install "
                 "the package with its CPU or GPU extra, e.g. pip install "
                 "'seqgan_tf[cpu]' (or '.[cpu]' in a checkout; '[gpu]' on a "
                 "machine with a GPU).")


def run(argv: list[str] | None = None) -> None:
  """The `seqgan` command: training, presets, the analysis commands."""
  argv = list(sys.argv if argv is None else argv)
  if argv[1:2] == ["--version"]:
    print(f"seqgan_tf {__version__}")
    return
  if importlib.util.find_spec("tensorflow") is None:
    print(NO_TENSORFLOW, file=sys.stderr)
    sys.exit(EXIT_CONFIG)
  if len(argv) > 1 and argv[1] in COMMANDS:
    command = importlib.import_module(COMMANDS[argv[1]])
    command.define_flags()
    for flag in FLAGS.get_key_flags_for_module(command.__name__):
      FLAGS.register_key_flag_for_module(argv[0], flag)
    app.run(command.main, argv=[argv[0], *argv[2:]])
  try:
    argv = presets.expand(argv)
  except ValueError as e:
    print(e, file=sys.stderr)
    sys.exit(EXIT_CONFIG)
  # absl's --help lists the key flags of the program it was started as;
  # here that is the script, not this module.
  for flag in FLAGS.get_key_flags_for_module(__name__):
    FLAGS.register_key_flag_for_module(argv[0], flag)
  app.run(main, argv=argv)


if __name__ == "__main__":
  run()
