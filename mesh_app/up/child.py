"""A service process under ``feedbackmesh up``: ``python -m mesh_app.up.child --parent PID
TARGET...`` arranges to die with ``up``, then runs ``feedbackmesh serve TARGET...``.

Done here rather than in a ``preexec_fn`` because ``up`` holds gRPC channels (threads) and
running Python between fork and exec in a threaded process can deadlock.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """On Linux, SIGTERM this process when ``up`` dies (even by SIGKILL), so no orphan keeps
    the ports and the chDB directory; the drain then runs as on a normal stop."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # `up` died before prctl took effect
        raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--parent" or not args[1].isdigit():
        print("usage: python -m mesh_app.up.child --parent PID TARGET...", file=sys.stderr)
        return 2
    die_with_parent(int(args[1]))
    from mesh_app.cli import main as cli_main

    return cli_main(["serve", *args[2:]])


if __name__ == "__main__":
    sys.exit(main())
