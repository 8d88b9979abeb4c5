"""A process under ``feedbackmesh up`` that dies with ``up``.

    python -m mesh_app.up.child --parent PID TARGET...                 # feedbackmesh serve
    python -m mesh_app.up.child --parent PID --exec SIGNAL USER PROGRAM ARG...  # a binary

Either form arranges for a signal (SIGTERM for a service) to arrive when ``up`` dies, then
runs ``feedbackmesh serve TARGET...`` or becomes ``USER`` (``-``: stay) and replaces itself
with ``PROGRAM`` (embedded PostgreSQL and Valkey: the setting survives ``execv``, but not a
change of user, hence the order). Done here rather than in a
``preexec_fn`` because ``up`` holds gRPC channels (threads) and running Python between
fork and exec in a threaded process can deadlock.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, signum: int = signal.SIGTERM) -> None:
    """On Linux, send ``signum`` to this process when ``up`` dies (even by SIGKILL), so no
    orphan keeps the ports, the chDB directory or PostgreSQL's data directory; a service
    then drains as on a normal stop."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent:  # `up` died before prctl took effect
        raise SystemExit(1)


def exec_argv(
    parent: int, stop_signal: signal.Signals, user: str | None, argv: Sequence[str]
) -> list[str]:
    """The command line that runs ``argv`` under ``up`` (see the module docstring)."""
    head = [sys.executable, "-m", "mesh_app.up.child", "--parent", str(parent)]
    return [*head, "--exec", stop_signal.name, user or "-", *argv]


def _become(user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--parent" or not args[1].isdigit():
        print("usage: python -m mesh_app.up.child --parent PID TARGET...", file=sys.stderr)
        return 2
    parent, rest = int(args[1]), args[2:]
    if rest[0] == "--exec":
        if len(rest) < 4 or rest[1] not in signal.Signals.__members__:
            print("usage: ... --exec SIGNAL USER PROGRAM [ARG...]", file=sys.stderr)
            return 2
        if rest[2] != "-":
            _become(rest[2])
        die_with_parent(parent, signal.Signals[rest[1]])
        os.execv(rest[3], rest[3:])  # noqa: S606 - argv from `up`, no shell wanted
    die_with_parent(parent)
    from mesh_app.cli import main as cli_main

    return cli_main(["serve", *rest])


if __name__ == "__main__":
    sys.exit(main())
