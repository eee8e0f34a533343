"""Relative COURSE_*_DIR folders resolve once, the same way in every process: against the repository root."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from course_utils import config

ROOT = Path(__file__).resolve().parents[1]
PRINT_DIRS = "from course_utils import config; print(config.cache_dir(), config.data_dir(), config.artifact_dir())"


def test_relative_folders_resolve_against_the_repository_root_in_every_process():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COURSE_CACHE_DIR": "rel/cache",
           "COURSE_DATA_DIR": "rel/data", "COURSE_ARTIFACT_DIR": "rel/build"}
    seen = {subprocess.run([sys.executable, "-c", PRINT_DIRS], cwd=cwd, env=env, capture_output=True,
                           text=True, check=True).stdout.split()[0] for cwd in (ROOT, ROOT / "notebooks", "/")}
    assert seen == {str(ROOT / "rel" / "cache")}


def test_relative_folders_do_not_follow_a_later_chdir(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", "rel/cache")
    monkeypatch.setenv("COURSE_ARTIFACT_DIR", "art")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert config.cache_dir() == ROOT / "rel" / "cache"
    assert config.artifact_dir() == ROOT / "art"
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "abs"))
    assert config.cache_dir() == tmp_path / "abs"  # absolute paths are used as given
    monkeypatch.delenv("COURSE_ARTIFACT_DIR")
    assert config.artifact_dir() == ROOT / "build"
