"""Export and serving, as a user meets them: a fresh process, saved_model_cli,
the REST bodies of docs/usage.md, TensorBoard over HTTP, versions, bad input."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from conftest import REPO
from main_test import run_main
from tasks_test import write_corpus
from seqgan_tf import config as config_lib, export

SEEDS = [1, 2, 3]
TEMPERATURES = [1.0, 1.0, 0.5]
PREFIXES = ["the big", "the", "the old cat"]
TEXTS = ["the big dog runs .", "the cat", "the old tree sleeps ."]


def call_all(model, signature=lambda m, name: m.signatures[name]):
  """Calls every signature on fixed inputs; returns numpy outputs."""
  seed = tf.constant(SEEDS, tf.int64)
  temperature = tf.constant(TEMPERATURES, tf.float32)
  outs = {
      "sample": signature(model, "serving_default")(
          seed=seed, temperature=temperature),
      "complete": signature(model, "complete")(
          prefix=tf.constant(PREFIXES), seed=seed, temperature=temperature),
      "score": signature(model, "score")(text=tf.constant(TEXTS)),
  }
  return {k: {name: v.numpy().tolist() for name, v in out.items()}
          for k, out in outs.items()}


FRESH_PROCESS = """
import json, sys
import tensorflow as tf
sys.path.insert(0, {tests!r})
from export_test import call_all
model = tf.saved_model.load({path!r})
print("RESULT" + json.dumps(call_all(model), default=lambda b: b.decode()))
"""


class ExportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp()
    corpus = os.path.join(cls.tmp, "corpus.txt")
    write_corpus(corpus)
    cls.workdir = os.path.join(cls.tmp, "run")
    cls.flags = ["--flagfile=flags/text_smoke.flags", f"--train_file={corpus}",
                 f"--tfds_dir={cls.tmp}/tfds", "--model_name=tiny",
                 "--pretrain_gen_epochs=3", "--eval_every=1"]
    code, out = run_main(cls.workdir, *cls.flags)
    assert code == 0, out
    cls.model_dir = os.path.join(cls.workdir, "export", "tiny")
    cls.version_dir = os.path.join(cls.model_dir, "1")

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.tmp, ignore_errors=True)
    super().tearDownClass()

  def in_process_serving(self):
    with open(os.path.join(self.workdir, "config.json")) as f:
      config = config_lib.Config.from_json(json.dumps(json.load(f)["full"]))
    generator = export.restore_generator(config, self.workdir)
    return export.serving_module(config, self.workdir, generator)

  def test_fresh_process_load_equals_in_process_generator(self):
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS.format(
            tests=os.path.join(REPO, "tests"), path=self.version_dir)],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    self.assertEqual(proc.returncode, 0, proc.stderr)
    fresh = json.loads(proc.stdout.split("RESULT", 1)[1])
    here = call_all(self.in_process_serving(), lambda m, name: {
        "serving_default": m.sample, "complete": m.complete,
        "score": m.score}[name])
    here = json.loads(json.dumps(here, default=lambda b: b.decode()))
    self.assertEqual(fresh["sample"]["tokens"], here["sample"]["tokens"])
    self.assertEqual(fresh["sample"]["text"], here["sample"]["text"])
    self.assertEqual(fresh["complete"]["text"], here["complete"]["text"])
    self.assertAllClose(fresh["score"]["log_prob"], here["score"]["log_prob"],
                        atol=1e-5)
    # Outputs make sense, not just agree.
    for text, completion, prefix in zip(fresh["complete"]["text"],
                                        fresh["complete"]["completion"],
                                        PREFIXES):
      self.assertTrue(text.startswith(prefix), text)
      self.assertEqual(text, (prefix + " " + completion).strip())
    self.assertEqual(fresh["score"]["lengths"], [6, 3, 6])   # tokens + </s>
    for row, n, total in zip(fresh["score"]["token_log_probs"], [6, 3, 6],
                             fresh["score"]["log_prob"]):
      self.assertTrue(all(v < 0 for v in row[:n]))
      self.assertTrue(all(v == 0 for v in row[n:]))
      self.assertAllClose(sum(row), total, atol=1e-4)
    # A row's seed alone fixes its tokens: the same seed alone gives row 0.
    alone = tf.saved_model.load(self.version_dir).signatures["serving_default"](
        seed=tf.constant([1], tf.int64), temperature=tf.constant([1.0]))
    self.assertEqual(alone["tokens"].numpy().tolist()[0],
                     fresh["sample"]["tokens"][0])

  def test_keras_file_beside_the_versions_samples_as_the_checkpoint(self):
    """export/<model>.keras: keras.saving.load_model gives back G, which
    draws the same tokens as G restored from the checkpoint."""
    import keras  # pylint: disable=g-import-not-at-top
    from seqgan_tf.modeling import sampler  # pylint: disable=g-import-not-at-top
    path = os.path.join(self.workdir, "export", "tiny.keras")
    loaded = keras.saving.load_model(path)
    restored = self.in_process_serving().generator
    self.assertEqual(type(loaded).__name__, "Generator")
    seed = tf.constant([5, 6])
    self.assertAllEqual(sampler.sample(loaded, 16, seed),
                        sampler.sample(restored, 16, seed))
    self.assertNotAllEqual(sampler.sample(loaded, 16, seed),
                           sampler.sample(loaded, 16, tf.constant([5, 7])))

  def test_exported_graph_has_no_xla_function(self):
    """TF Serving runs graph ops; training's XLA-fused softmax must not leak
    into the SavedModel (Generator.log_probs(use_xla=False) in export)."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(self.version_dir, "saved_model.pb"), "rb") as f:
      proto.ParseFromString(f.read())
    functions = proto.meta_graphs[0].graph_def.library.function
    self.assertNotEmpty(functions)
    for function in functions:
      for key in ("_XlaMustCompile", "_noinline_jit", "_jit_compile"):
        attr = function.attr.get(key)
        self.assertFalse(attr is not None and attr.b,
                         f"{function.signature.name} has {key}")

  def test_saved_model_cli_show_and_run(self):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    show = subprocess.run([cli, "show", "--dir", self.version_dir, "--all"],
                          capture_output=True, text=True, timeout=120)
    self.assertEqual(show.returncode, 0, show.stderr)
    for name in export.SIGNATURES:
      self.assertIn(f"signature_def['{name}']", show.stdout)
    default = show.stdout.split("signature_def['serving_default']")[1]
    self.assertRegex(default, r"inputs\['seed'\] tensor_info:\s+dtype: DT_INT64"
                              r"\s+shape: \(-1\)")
    self.assertRegex(default, r"outputs\['text'\] tensor_info:\s+dtype: "
                              r"DT_STRING")
    tmp = self.create_tempdir().full_path
    np.save(f"{tmp}/seed.npy", np.array([4, 5], np.int64))
    np.save(f"{tmp}/temperature.npy", np.array([1.0, 1.0], np.float32))
    run = subprocess.run(
        [cli, "run", "--dir", self.version_dir, "--tag_set", "serve",
         "--signature_def", "serving_default", "--inputs",
         f"seed={tmp}/seed.npy;temperature={tmp}/temperature.npy"],
        capture_output=True, text=True, timeout=120)
    self.assertEqual(run.returncode, 0, run.stderr)
    text = run.stdout.split("Result for output key text:")[1]
    self.assertRegex(text, r"\[b'[^']+' b'[^']+'\]")  # two decoded rows

  def test_readme_rest_bodies_map_onto_signatures(self):
    with open(os.path.join(REPO, "docs", "usage.md")) as f:
      readme = f.read()
    model = tf.saved_model.load(self.version_dir)
    bodies = re.findall(r"<!-- rest:(\w+) -->\s*```json\n(.*?)\n```", readme,
                        re.S)
    self.assertCountEqual([name for name, _ in bodies], export.SIGNATURES)
    for name, body in bodies:
      request = json.loads(body)
      self.assertEqual(request["signature_name"], name)
      signature = model.signatures[name]
      specs = signature.structured_input_signature[1]
      # TF Serving's row format: instance i's field k is row i of input k.
      tensors = {k: tf.constant([row[k] for row in request["instances"]],
                                specs[k].dtype) for k in specs}
      out = signature(**tensors)
      for value in out.values():
        self.assertEqual(value.shape[0], len(request["instances"]))

  def test_tensorboard_serves_curves_and_samples(self):
    with socket.socket() as s:
      s.bind(("127.0.0.1", 0))
      port = s.getsockname()[1]
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    proc = subprocess.Popen(
        [tensorboard, "--logdir", self.workdir, "--host", "127.0.0.1",
         "--port", str(port)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
      deadline = time.time() + 60
      while True:
        try:
          runs = json.load(urllib.request.urlopen(f"{base}/data/runs",
                                                  timeout=5))
          if runs:
            break
        except OSError:
          pass
        self.assertLess(time.time(), deadline, "TensorBoard did not start")
        time.sleep(0.5)
      self.assertIn("tensorboard", runs)
      scalars = json.load(urllib.request.urlopen(
          f"{base}/data/plugin/scalars/scalars?run=tensorboard&tag=bleu2"))
      steps = [step for _, step, _ in scalars]
      self.assertEqual(steps, [0, 1, 2, 3, 4, 5])  # MLE 0-3, adversarial 4-5
      texts = json.load(urllib.request.urlopen(
          f"{base}/data/plugin/text/text?run=tensorboard&tag=samples"))
      self.assertTrue(texts and "the" in texts[-1]["text"])
    finally:
      proc.terminate()
      proc.wait(timeout=30)

  def test_second_export_is_a_new_version_and_interrupted_one_leaves_none(self):
    first = os.path.join(self.version_dir, "saved_model.pb")
    with open(first, "rb") as f:
      before = f.read()
    code, out = run_main(self.workdir, *self.flags, "--mode=export")
    self.assertEqual(code, 0, out)
    self.assertTrue(os.path.isdir(os.path.join(self.model_dir, "2")))
    with open(first, "rb") as f:
      self.assertEqual(f.read(), before)

    serving = self.in_process_serving()
    real_save = tf.saved_model.save

    def crash(obj, path, **kwargs):  # dies half-way through writing
      os.makedirs(path, exist_ok=True)
      open(os.path.join(path, "saved_model.pb"), "wb").close()
      raise KeyboardInterrupt
    tf.saved_model.save = crash
    try:
      with self.assertRaises(KeyboardInterrupt):
        export.export(serving, os.path.join(self.workdir, "export"), "tiny")
    finally:
      tf.saved_model.save = real_save
    self.assertCountEqual(os.listdir(self.model_dir), ["1", "2"])

  def test_bad_inputs_are_clear_errors(self):
    model = tf.saved_model.load(self.version_dir)
    with self.assertRaisesRegex((TypeError, ValueError,
                                 tf.errors.InvalidArgumentError), "int64"):
      model.signatures["serving_default"](
          seed=tf.constant([1.5]), temperature=tf.constant([1.0]))
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                "one entry per row"):
      model.signatures["serving_default"](
          seed=tf.constant([1, 2], tf.int64), temperature=tf.constant([1.0]))
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                "a prefix is too long"):
      model.signatures["complete"](
          prefix=tf.constant(["the big dog runs . the big dog runs . the big dog runs"]),
          seed=tf.constant([1], tf.int64), temperature=tf.constant([1.0]))
    code, out = run_main("", "--mode=sample", f"--export_dir={self.tmp}")
    self.assertEqual(code, 3)
    self.assertIn("is not a SavedModel", out)


if __name__ == "__main__":
  tf.test.main()
