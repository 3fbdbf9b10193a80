"""What runs inside a worker: a batch of tasks, each isolated so one failure never hides another."""

from __future__ import annotations

import os
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from segprep.engine.malloc import tune_malloc
from segprep.engine.tasks import Placement, Task, TaskContext, TaskResult
from segprep.errors import SegprepError
from segprep.io.sources import SourceReader

_local = threading.local()  # one reader per worker thread: keeps archives open across batches


@dataclass(frozen=True)
class WorkerConfig:
    out_root: Path
    placement: Placement


def run_batch(config: WorkerConfig, batch: list[tuple[Task, dict[str, bytes] | None]]) -> list[TaskResult]:
    reader = getattr(_local, "reader", None)
    if reader is None:
        tune_malloc()  # once per process, whichever executor started it (a Dask worker has no initializer)
        reader = _local.reader = SourceReader()
    return [run_task(config, reader, task, preloaded) for task, preloaded in batch]


def run_task(config: WorkerConfig, reader: SourceReader, task: Task, preloaded: dict[str, bytes] | None) -> TaskResult:
    ctx = TaskContext(config.out_root, config.placement, reader, preloaded)
    debug_delay("SEGPREP_TASK_DELAY_MS")
    try:
        extra = task.action(ctx, task)
    except SegprepError as exc:
        return TaskResult(task.key, False, ctx.outputs, error=str(exc))
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
        message = f"unexpected {type(exc).__name__} while processing {task.describe_inputs()}: {exc} (at {where})"
        return TaskResult(task.key, False, ctx.outputs, error=message, detail=traceback.format_exc())
    missing = set(task.outputs) - {o.path for o in ctx.outputs} - ctx.omitted
    if missing:
        return TaskResult(task.key, False, ctx.outputs, error=f"the action did not write {sorted(missing)}")
    return TaskResult(task.key, True, ctx.outputs, extra=extra)


def debug_delay(variable: str) -> None:
    # SEGPREP_TASK_DELAY_MS (every task) and SEGPREP_FINALIZE_DELAY_MS (every aggregate write) slow a run
    # down, so tests can kill it reliably part-way.
    delay = os.environ.get(variable)
    if delay:
        time.sleep(int(delay) / 1000)
