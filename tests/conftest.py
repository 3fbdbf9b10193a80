import os
import signal
import subprocess
import sys
import time
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


def kill_part_way(cmd: list[str], watch: Path, files: int, delay_ms: int = 150, timeout: float = 60,
                  extra_env: dict[str, str] | None = None, settle: float = 0.0) -> int:
    """Runs ``cmd`` with every task slowed down by ``delay_ms``, SIGKILLs its whole process group
    ``settle`` seconds after ``watch`` holds ``files`` files (or after ``timeout`` seconds), and returns
    how many finished (non-temporary) files it left there."""
    env = dict(os.environ, SEGPREP_TASK_DELAY_MS=str(delay_ms), **(extra_env or {}))
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        done = sum(1 for _, _, names in os.walk(watch) for name in names if ".segprep-tmp" not in name)
        if done >= files:
            time.sleep(settle)
            break
        time.sleep(0.02)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return sum(1 for name in tree_bytes(watch) if ".segprep-tmp" not in name) if watch.exists() else 0
