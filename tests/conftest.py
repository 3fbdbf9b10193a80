import os
import sys
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))  # so that spawned workers can import test helpers


@pytest.fixture
def shared_data() -> Path:
    """The real public sample files of ../shared/data; tests using them skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available here")
    return SHARED_DATA


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (relative posix path -> bytes), for byte-identical comparisons."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out
