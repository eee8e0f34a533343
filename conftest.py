"""Test environment for every test, unit tests and notebooks alike (nbval collects notebooks/ too).

If COURSE_DATA_DIR is not set and the repository sits beside ``shared/data`` (as on the course's
test machines), point the data folder there so no test ever downloads. Relative folders are made
absolute. Notebooks run by nbval inherit these variables: the kernel starts from this process's
environment.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_offline = ROOT.parent / "shared" / "data"
if not os.environ.get("COURSE_DATA_DIR") and (_offline / "MNIST" / "raw").is_dir():
    os.environ["COURSE_DATA_DIR"] = str(_offline)
elif os.environ.get("COURSE_DATA_DIR"):
    os.environ["COURSE_DATA_DIR"] = str(Path(os.environ["COURSE_DATA_DIR"]).expanduser().resolve())
if os.environ.get("COURSE_CACHE_DIR"):
    os.environ["COURSE_CACHE_DIR"] = str(Path(os.environ["COURSE_CACHE_DIR"]).expanduser().resolve())
os.environ.setdefault("MPLBACKEND", "Agg")
