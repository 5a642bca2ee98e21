"""The shipped experiments: `seqgan --preset=NAME` is `--flagfile=` that file.

In a checkout the presets are the flagfiles in `flags/` (their source); an
installed wheel carries copies in `seqgan_tf/presets/` (setup.py puts them
there), with the demo corpus `tiny_corpus.txt` beside them.
"""

from __future__ import annotations

import os
import pathlib

DEMO_FILES = ("tiny_corpus.txt",)   # data files a preset may name


def _folders() -> list[pathlib.Path]:
  package = pathlib.Path(__file__).resolve().parent
  return [package / "presets", package.parent / "flags", package.parent / "data"]


def names() -> list[str]:
  """Every preset's name (its flagfile's name without `.flags`)."""
  return sorted({p.stem for folder in _folders() if folder.is_dir()
                 for p in folder.glob("*.flags")})


def path(name: str) -> str:
  """The flagfile of preset `name`.

  Raises:
    ValueError: there is no such preset (the message lists them).
  """
  for folder in _folders():
    candidate = folder / f"{name}.flags"
    if candidate.is_file():
      return str(candidate)
  raise ValueError(f"--preset={name}: no such preset; the presets are "
                   f"{', '.join(names())} (or give --flagfile=YOUR.flags).")


def expand(argv: list[str]) -> list[str]:
  """argv with each `--preset=NAME` replaced by `--flagfile=<its file>`."""
  out = []
  for arg in argv:
    if arg.startswith("--preset="):
      arg = "--flagfile=" + path(arg.split("=", 1)[1])
    out.append(arg)
  return out


def data_file(file: str) -> str:
  """`file` itself if it exists, else the shipped demo file of that name
  (a preset names `tiny_corpus.txt`, which a wheel keeps beside the presets),
  else `file` (the caller reports it missing)."""
  if not file or os.path.exists(file) or os.path.basename(file) != file:
    return file
  if file in DEMO_FILES:
    for folder in _folders():
      if (folder / file).is_file():
        return str(folder / file)
  return file
