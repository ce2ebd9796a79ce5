"""Shared fixtures: the helper modules on sys.path and the real data folder."""

import os
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MYMODULES = PROJECT_ROOT / "mymodules"

# The modules are imported the way students import them: flat, from sys.path.
sys.path.insert(0, str(MYMODULES))


def _real_data_dir():
    configured = os.environ.get("COURSE_DATA_DIR")
    if configured:
        return Path(configured).resolve()
    return (PROJECT_ROOT.parent / "shared" / "data").resolve()


REAL_DATA_DIR = _real_data_dir()


@pytest.fixture(autouse=True, scope="session")
def isolated_user_cache(tmp_path_factory):
    """Keep the parsed-MNIST cache of the tests out of the user's own cache."""
    cache_home = tmp_path_factory.mktemp("xdg-cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache_home)
    yield cache_home
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def real_data_dir():
    """The folder with the real MNIST test split and sample_weight.pkl.

    Skips where it is missing, except in CI, where a missing folder is an error.
    """
    if not (REAL_DATA_DIR / "sample_weight.pkl").is_file():
        message = (
            f"real data not found in {REAL_DATA_DIR}; "
            "set COURSE_DATA_DIR to a folder with mnist/*.gz and sample_weight.pkl"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REAL_DATA_DIR
