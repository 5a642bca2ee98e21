"""Packaging is declared in pyproject.toml; this file only ships the presets.

The wheel carries the flagfiles of flags/ (their source stays there) and the
demo corpus as seqgan_tf/presets/, so that `seqgan --preset=NAME` runs from
an installed package (seqgan_tf/presets.py finds them).
"""

import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent


class BuildPyWithPresets(build_py):
  """build_py, then the presets into the built package."""

  def run(self):
    super().run()
    target = pathlib.Path(self.build_lib) / "seqgan_tf" / "presets"
    target.mkdir(parents=True, exist_ok=True)
    for path in [*sorted((ROOT / "flags").glob("*.flags")),
                 ROOT / "data" / "tiny_corpus.txt"]:
      shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildPyWithPresets})
