"""The wheel as a user gets it: presets and the licence inside; installed
outside the checkout, `seqgan --version`, `--preset=smoke` and the analysis
commands work; a missing TensorFlow is one clear line."""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

import tensorflow as tf

from conftest import REPO


def run(args, **kwargs):
  # PYTHONPATH would show the checkout (and its egg-info) to the new venvs.
  env = kwargs.pop("env", os.environ)
  env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
  return subprocess.run(args, capture_output=True, text=True, timeout=600,
                        env=env, **kwargs)


class WheelTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = pathlib.Path(tempfile.mkdtemp(prefix="seqgan_wheel_"))
    cls.addClassCleanup(shutil.rmtree, root, ignore_errors=True)
    # The test venv's own setuptools (pinned): no download, no isolation.
    build = run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps",
                 "--no-build-isolation", "-q", "-w", str(root / "dist")],
                cwd=root)
    assert build.returncode == 0, build.stderr[-3000:]
    cls.wheel = next((root / "dist").glob("seqgan_tf-*.whl"))
    # A fresh venv whose dependencies are this one's (a .pth line, so that
    # the checkout's editable install is not seen) and whose seqgan_tf is
    # the wheel.
    cls.venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(cls.venv)], check=True)
    python = cls.venv / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig."
                "get_paths()['purelib'])"]).stdout.strip()
    pathlib.Path(site, "deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the editable seqgan_tf that the .pth line shows is
    # not this wheel.
    install = run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                   "--ignore-installed", str(cls.wheel)])
    assert install.returncode == 0, install.stderr[-3000:]
    cls.outside = root / "elsewhere"
    cls.outside.mkdir()

  def seqgan(self, *args):
    return run([str(self.venv / "bin" / "seqgan"), *args], cwd=self.outside,
               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})

  def test_wheel_holds_presets_and_licence(self):
    names = zipfile.ZipFile(self.wheel).namelist()
    flagfiles = sorted(p.name for p in (REPO / "flags").glob("*.flags"))
    self.assertCountEqual(
        [n.split("/")[-1] for n in names
         if n.startswith("seqgan_tf/presets/") and n.endswith(".flags")],
        flagfiles)
    self.assertIn("seqgan_tf/presets/tiny_corpus.txt", names)
    self.assertTrue(any(n.endswith("licenses/LICENSE") for n in names))

  def test_installed_commands_run_outside_the_checkout(self):
    from seqgan_tf import __version__  # pylint: disable=g-import-not-at-top
    version = self.seqgan("--version")
    self.assertEqual(version.stdout.strip(), f"seqgan_tf {__version__}")
    where = run([str(self.venv / "bin" / "python"), "-c",
                 "import seqgan_tf; print(seqgan_tf.__file__)"],
                cwd=self.outside)
    self.assertIn(str(self.venv), where.stdout)      # the wheel, not REPO
    smoke = self.seqgan("--preset=smoke", f"--workdir={self.outside}/smoke")
    self.assertEqual(smoke.returncode, 0, smoke.stderr[-3000:])
    self.assertTrue((self.outside / "smoke" / "results.json").exists())
    compare = self.seqgan("compare", f"--a={self.outside}/smoke",
                          f"--b={self.outside}/smoke")
    self.assertEqual(compare.returncode, 0, compare.stderr[-3000:])
    self.assertIn("nll_oracle", compare.stdout)
    for command, flag in (("report", "--rows"), ("sweep", "--temperatures")):
      helped = self.seqgan(command, "--help")   # absl's --help exits 1
      self.assertIn(flag, helped.stdout, helped.stderr[-2000:])
    bad = self.seqgan("--preset=no_such_preset")
    self.assertEqual(bad.returncode, 2)
    self.assertIn("smoke", bad.stderr)                # it lists the presets

  def test_missing_tensorflow_is_one_clear_line(self):
    # A venv without TensorFlow: absl and the wheel only.
    bare = pathlib.Path(self.create_tempdir().full_path) / "bare"
    subprocess.run([sys.executable, "-m", "venv", str(bare)], check=True)
    site = run([str(bare / "bin" / "python"), "-c", "import sysconfig; "
                "print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    import absl  # pylint: disable=g-import-not-at-top
    only_absl = bare.parent / "only_absl"
    shutil.copytree(pathlib.Path(absl.__file__).parent, only_absl / "absl")
    pathlib.Path(site, "absl.pth").write_text(f"{only_absl}\n")
    self.assertEqual(run([str(bare / "bin" / "python"), "-m", "pip", "install",
                          "-q", "--no-deps", "--ignore-installed",
                          str(self.wheel)]).returncode, 0)
    if run([str(bare / "bin" / "python"), "-c",
            "import tensorflow"]).returncode == 0:
      self.skipTest("TensorFlow is importable from the bare venv here")
    out = run([str(bare / "bin" / "seqgan"), "--preset=smoke"],
              cwd=self.outside)
    self.assertEqual(out.returncode, 2)
    self.assertIn("needs TensorFlow", out.stderr)
    self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
    self.assertEqual(run([str(bare / "bin" / "seqgan"), "--version"]
                         ).returncode, 0)


if __name__ == "__main__":
  tf.test.main()
