"""``feedbackmesh up`` and ``demo-data``: the whole mesh on one machine.

Placeholder until issue F lands: the commands are registered but not yet built.
"""

from __future__ import annotations

import argparse
from typing import Any

from mesh_runtime.settings import Settings


def add_commands(commands: Any) -> None:
    up = commands.add_parser("up", help="run the whole mesh in the foreground")
    up.add_argument("--data-dir", default=None)
    up.add_argument("--gateway-port", type=int, default=None)


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    raise SystemExit(f"feedbackmesh {args.command}: not implemented yet")
