"""The command line: one absl flag per Config field, with its help, and the
Config the parsed flags give (flag > the workdir's run > task and method
defaults > the flag's default). Only main.py reads flags."""

from __future__ import annotations

import dataclasses
from typing import Any

from absl import flags, logging

from seqgan_tf import presets
from seqgan_tf.config import (DIS_DTYPES, JIT_MODES, METHOD_DEFAULTS, METHODS,
                              MODES, REWARD_BASELINES, STRATEGIES,
                              TASK_DEFAULTS, TASKS, Config, ConfigError,
                              replace, upgrade, validate)

# Help for every flag: what it does, its unit, and the paper's value where
# there is one ("paper: ..." refers to the synthetic experiment unless said).
HELP = {
    "task": f"Experiment: {', '.join(TASKS)}. 'text' trains on --train_file. "
            "Each real-data task brings its own length, model size and "
            "schedule (config.TASK_DEFAULTS); flags override them.",
    "method": "What trains G (the paper's Table 1): mle (MLE only), ss "
              "(scheduled sampling only), pg_bleu (MLE, then policy "
              "gradient with BLEU against the training set as reward; no D), "
              "or seqgan.",
    "data_dir": "Folder with local copies of the corpora (<data_dir>/<name>/..."
                ", e.g. ../shared/data). Empty: download and sha256-check.",
    "seed": "Seed of the initialisation and of every random draw (each draw is "
            "keyed by seed, phase and counter, so a resumed run repeats them).",
    "deterministic": "TF op determinism: reruns and resumed runs are "
                     "bit-identical (a little slower).",
    "jit_compile": "XLA-compile every training step (MLE, D, and the policy "
                   "gradient with its roll-out): on, off, or auto (on where a "
                   "GPU is visible; on CPU graph mode measured faster).",
    "strategy": "tf.distribute: default (one device), mirrored (every local "
                "GPU), or multi_worker (the machines in TF_CONFIG). Each batch "
                "is split over the replicas; results do not depend on their "
                "number. --batch_size must divide evenly.",
    "oracle_params": "synthetic: the oracle's parameter pickle (a list of 15 "
                     "float32 arrays; read without running code). Empty: the "
                     "paper's, from --data_dir/synthetic/ or downloaded; "
                     "'random': a seeded N(0, 1) oracle of the flags' shape.",
    "train_file": "synthetic: token-id file, one sequence per line (empty: "
                  "sample --num_train from the oracle); text: a UTF-8 file.",
    "test_file": "text: held-out UTF-8 file (empty: every 10th unit of "
                 "--train_file).",
    "tfds_dir": "Where TFDS prepares the corpora (empty: ~/tensorflow_datasets).",
    "text_level": "Tokens: word, char or space-separated (empty: the task's "
                  "default; poems: char, nottingham: space, else word).",
    "text_unit": "text: one sequence per line, per blank-line-separated "
                 "paragraph, or per sentence (split after . ! ? in each "
                 "line). --task=text takes sentences when too many lines "
                 "are longer than 64 tokens.",
    "num_train": "synthetic: oracle samples used as real data (paper: 10,000; "
                 "authors: 9,984).",
    "vocab_size": "Tokens. synthetic: the oracle's vocabulary (paper: 5,000); "
                  "text: the cap, 4 reserved ids included (rarer tokens "
                  "become <unk>).",
    "seq_length": "Tokens per sequence, </s> included on text (paper: 20 "
                  "synthetic, 32 Obama).",
    "start_token": "Id G reads before the first token (synthetic; text "
                   "tasks use <s>).",
    "gen_emb_dim": "G's embedding width (paper: 32).",
    "gen_hidden_dim": "G's LSTM units (paper: 32).",
    "gen_init_stddev": "Std of G's N(0, s) initialisation (authors: 0.1).",
    "gen_learning_rate": "Adam learning rate of G, for MLE and the policy "
                         "gradient (authors: 0.01).",
    "pg_learning_rate": "Adam learning rate of the policy gradient alone "
                        "(0: --gen_learning_rate, as the authors).",
    "gen_grad_clip": "Global-norm clip of G's gradients (authors: 5.0).",
    "dis_emb_dim": "D's embedding width (paper: 64).",
    "dis_filter_sizes": "D's convolution widths, in tokens (empty: the paper's "
                        "set for --seq_length: 1..10, 15, 20 at length 20).",
    "dis_num_filters": "Filters per width, one per --dis_filter_sizes entry "
                       "(empty: the paper's 100, 200 x4, 100 x5, 160, 160).",
    "dis_dropout_keep": "D's dropout keep probability in training (paper: "
                        "0.75).",
    "dis_l2": "L2 weight on D's output layer, times sum(w^2)/2 (paper: 0.2).",
    "dis_learning_rate": "Adam learning rate of D (authors: 1e-4).",
    "dis_compute_dtype": "D's convolutions and highway layer in float32 or "
                         "bfloat16 (variables, dropout, output layer and "
                         "losses stay float32; checkpoints are the same). "
                         "auto: time a few D steps in each at start-up and "
                         "take bfloat16 only where it is at least 10% faster "
                         "(it pays only on hardware with bfloat16 arithmetic); "
                         "float32 under --deterministic.",
    "batch_size": "Sequences per step, for G and D (paper: 64).",
    "pretrain_gen_epochs": "MLE pre-training epochs of G over the real set "
                           "(authors: 120); with --mle_patience, at most.",
    "mle_patience": "Early stopping: end MLE pre-training after this many "
                    "epochs without a lower NLL on the validation split, and "
                    "go on from G's best epoch. 0: run every epoch (paper).",
    "validation_every": "With --mle_patience: every N-th real training "
                        "sequence is held out as the validation split (not "
                        "trained on, by G or D).",
    "pretrain_dis_steps": "D pre-training steps, each on fresh negatives "
                          "(authors: 50).",
    "num_negatives": "Generated sequences per D step; real ones are drawn to "
                     "the same number (authors: 9,984).",
    "dis_epochs": "Epochs over each D step's data, k in the paper (paper: 3).",
    "adv_iterations": "Adversarial iterations (authors: 200).",
    "time_budget_minutes": "If > 0: at start-up, after timing each kind of "
                           "step, scale the MLE epochs and adversarial "
                           "iterations down (never up) so that the estimated "
                           "run fits this many minutes. --task=text: 60, "
                           "unless --pretrain_gen_epochs or --adv_iterations "
                           "is given. 0, or under --deterministic: the "
                           "schedule as given.",
    "adv_g_steps": "Policy-gradient steps of G per iteration (paper: 1).",
    "adv_d_steps": "D steps per iteration, each on fresh negatives (paper: 5).",
    "rollout_num": "Monte Carlo completions per prefix, N in the paper (paper: "
                   "16).",
    "rollout_update_rate": "r in beta <- r*beta + (1-r)*theta after each G "
                           "step (0: roll out with the current G, as the "
                           "authors' code in effect does; 1: frozen).",
    "reward_baseline": "Subtracted from Q in the policy gradient: none (the "
                       "paper) or batch_mean (Q's mean over the batch at "
                       "each position).",
    "init_from": "Start a new run from another workdir's latest checkpoint "
                 "(e.g. share one MLE pre-training between methods); its "
                 "model must fit this configuration. Ignored on resume.",
    "ss_decay": "ss: the share of real input tokens w starts at 1 and falls "
                "by this before every epoch (paper: 0.002).",
    "pg_bleu_n": "pg_bleu: the reward's BLEU order (authors' code: 3).",
    "eval_every": "Evaluate every this many MLE epochs or adversarial "
                  "iterations.",
    "nll_samples": "synthetic: samples scored by the oracle at each evaluation.",
    "final_nll_samples": "synthetic: samples for the final NLL-oracle (paper: "
                         "100,000).",
    "num_text_samples": "Decoded samples shown in the log and TensorBoard.",
    "bleu_ngrams": "text: BLEU/Self-BLEU orders to report (1..5).",
    "eval_samples": "text: samples scored by BLEU at each evaluation.",
    "self_bleu_samples": "text: samples used for Self-BLEU.",
    "checkpoint_every": "Checkpoint every this many MLE epochs, D pre-training "
                        "steps or adversarial iterations (and always on "
                        "SIGTERM/SIGINT).",
    "keep_checkpoints": "Checkpoints kept in WORKDIR/checkpoints.",
    "model_name": "Export name under WORKDIR/export/ (empty: seqgan_<task>).",
    "progress_secs": "Seconds between progress lines inside a long unit.",
}


_ENUMS = {"task": TASKS, "method": METHODS, "jit_compile": JIT_MODES,
          "dis_compute_dtype": DIS_DTYPES,
          "reward_baseline": REWARD_BASELINES, "strategy": STRATEGIES}


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines one absl flag per Config field, with the field's default.

  They are defined in this module; main.py adopts them as its key flags, so
  `--help` lists them.
  """
  for field in dataclasses.fields(Config):
    name, default = field.name, field.default
    doc = HELP[name]
    if isinstance(default, bool):
      flags.DEFINE_bool(name, default, doc, flag_values=flag_values)
    elif isinstance(default, int):
      flags.DEFINE_integer(name, default, doc, flag_values=flag_values)
    elif isinstance(default, float):
      flags.DEFINE_float(name, default, doc, flag_values=flag_values)
    elif isinstance(default, tuple):
      flags.DEFINE_list(name, [str(v) for v in default], doc,
                        flag_values=flag_values)
    elif name in _ENUMS:
      flags.DEFINE_enum(name, default, _ENUMS[name], doc,
                        flag_values=flag_values)
    else:
      flags.DEFINE_string(name, default, doc, flag_values=flag_values)
  flags.DEFINE_string("workdir", None, "Run folder: checkpoints, TensorBoard, "
                      "samples, exports (default: runs/<task>). Re-running "
                      "with it resumes; export and sample read its "
                      "configuration from it.",
                      flag_values=flag_values)
  flags.DEFINE_enum("mode", "train", MODES, "train (then export), export "
                    "(the workdir's latest checkpoint), or sample (from a "
                    "SavedModel only: --export_dir, or --workdir's export).",
                    flag_values=flag_values)
  flags.DEFINE_string("export_dir", None, "sample: WORKDIR/export/<model> or "
                      "one of its version folders (default: the workdir's).",
                      flag_values=flag_values)
  flags.DEFINE_integer("num_samples", 5, "sample: how many texts to print.",
                       flag_values=flag_values)
  flags.DEFINE_float("temperature", 1.0, "sample: softmax temperature (> 0; "
                     "1 is the model's distribution).",
                     flag_values=flag_values)
  flags.DEFINE_string("prefix", "", "sample: text to continue.",
                      flag_values=flag_values)
  # Read by main.run before parsing (it becomes --flagfile=...); defined so
  # that --help lists it.
  flags.DEFINE_string("preset", None, "A shipped experiment by name (its "
                      "flagfile), e.g. smoke, obama_paper, synthetic_fast; "
                      "later flags override it.", flag_values=flag_values)


def config_from_flags(values: flags.FlagValues,
                      saved: dict[str, Any] | None = None) -> Config:
  """Builds and validates a Config from parsed flags (read, never mutated).

  Each field takes, in order: the flag, if given (on the command line or in a
  flagfile); else the value of the workdir's run (`saved`), so a run can be
  resumed, exported or sampled from its workdir alone; else its task's
  or method's default (METHOD_DEFAULTS win); else the flag's default.
  """
  saved = saved or {}
  task = values["task"].value if values["task"].present else saved.get(
      "task", values["task"].value)
  method = values["method"].value if values["method"].present else saved.get(
      "method", values["method"].value)
  task_defaults = {**TASK_DEFAULTS.get(task, {}),
                   **METHOD_DEFAULTS.get(method, {})}
  kwargs = {}
  for field in dataclasses.fields(Config):
    flag = values[field.name]
    if not flag.present and (field.name in saved
                             or field.name in task_defaults):
      value = upgrade(field.name, saved.get(field.name,
                                             task_defaults.get(field.name)))
      kwargs[field.name] = tuple(value) if isinstance(value, list) else value
      continue
    value = flag.value
    if isinstance(field.default, tuple):
      try:
        value = tuple(int(v) for v in value)
      except ValueError as e:
        raise ConfigError(f"--{field.name}={','.join(value)}: must be a comma-"
                          f"separated list of integers") from e
    kwargs[field.name] = value
  kwargs["train_file"] = presets.data_file(kwargs["train_file"])
  config = validate(Config(**kwargs))
  if config.task == "text" and not saved:
    from seqgan_tf.data import sizing  # pylint: disable=g-import-not-at-top
    given = {name for name in sizing.SIZED if values[name].present}
    if given != set(sizing.SIZED):    # reads the corpus only if needed
      config = validate(sizing.size(config, given))
    fixed = [f"--{name}" for name in ("pretrain_gen_epochs", "adv_iterations")
             if values[name].present]
    if (fixed and config.time_budget_minutes
        and not values["time_budget_minutes"].present):
      logging.info("--task=text: the schedule is not fitted to an hour (%s "
                   "given; --time_budget_minutes fits it).", " and ".join(fixed))
      config = replace(config, time_budget_minutes=0.0)
  return config


def default_workdir(values: flags.FlagValues) -> str:
  """runs/<task>: where a run goes when --workdir is not given."""
  return f"runs/{values['task'].value}"


