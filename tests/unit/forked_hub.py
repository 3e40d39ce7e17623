"""Run many ``hub`` commands, each in a process of its own, without paying the command's import
(about a second of CPU: SQLAlchemy, Alembic, pydantic models) once per command.

Started as a script, it imports ``hub.cli`` once, reads a JSON list of jobs from stdin
(``argv``, ``cwd``, ``env``, ``stdout``, ``stderr``: the files the job's output goes to), forks
one child per job and prints the JSON list of exit codes. A child is what the installed ``hub``
script is after its import: a fresh process with its own environment, directory, argv and
standard streams (file descriptors 1 and 2), running ``sys.exit(hub.cli.main())`` and the exit
handlers, exiting with the status the interpreter would. tests/unit/test_cli_exit_codes.py
checks that the installed script answers as a child does.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import traceback
from typing import Any

MAX_RUNNING = 8  # children at a time; most are done in milliseconds


def _exit_status(code: object) -> int:
    """The exit status for ``SystemExit(code)``, as the interpreter computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _child(job: dict[str, Any]) -> int:
    from hub.cli import main

    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = [job["argv0"], *job["argv"]]
    try:
        sys.exit(main())
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException:
        traceback.print_exc()
        status = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def run_all(jobs: list[dict[str, Any]]) -> list[int]:
    """Each job's exit status, in order."""
    import hub.cli  # noqa: F401  (the import every child shares)

    codes: list[int | None] = [None] * len(jobs)
    running: dict[int, int] = {}  # pid -> job index
    pending = list(enumerate(jobs))
    while pending or running:
        while pending and len(running) < MAX_RUNNING:
            index, job = pending.pop(0)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    status = _child(job)
                finally:
                    os._exit(status)
            running[pid] = index
        pid, wait_status = os.wait()
        codes[running.pop(pid)] = os.waitstatus_to_exitcode(wait_status)
    return [c if c is not None else -1 for c in codes]


if __name__ == "__main__":
    print(json.dumps(run_all(json.load(sys.stdin))))
