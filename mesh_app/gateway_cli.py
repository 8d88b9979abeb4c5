"""``python -m mesh_app.gateway_cli render|validate``: the Envoy config from the
environment's settings and the service registry.

python -m mesh_app.gateway_cli render [--inline-descriptor] [--descriptor PB]
                         [--upstream svc=host:port] [--admin-address ADDR] [--out FILE]
python -m mesh_app.gateway_cli validate FILE
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway import DEFAULT_DESCRIPTOR
from gateway.config import render_envoy_config
from gateway.descriptor import DescriptorError
from gateway.envoy import EnvoyError, validate_config
from mesh_app import registry
from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)


def _upstream(value: str) -> tuple[str, str]:
    key, sep, addr = value.partition("=")
    if not sep or key not in registry.SERVICE_NAMES or ":" not in addr:
        raise argparse.ArgumentTypeError(
            f"expected <{'|'.join(registry.SERVICE_NAMES)}>=host:port, got {value!r}"
        )
    return key, addr


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mesh_app.gateway_cli", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="print the Envoy config (JSON, valid YAML)")
    render.add_argument("--descriptor", type=Path, default=DEFAULT_DESCRIPTOR)
    render.add_argument(
        "--inline-descriptor",
        action="store_true",
        help="embed the descriptor set (base64) so the config is self-contained",
    )
    render.add_argument(
        "--upstream",
        type=_upstream,
        action="append",
        default=[],
        metavar="SVC=HOST:PORT",
        help="override a service address (repeatable), e.g. feedback=feedback:50051",
    )
    render.add_argument("--admin-address", default="127.0.0.1")
    render.add_argument("--out", type=Path, help="write here instead of stdout")
    render.add_argument("--validate", action="store_true", help="also run envoy --mode validate")

    validate = sub.add_parser("validate", help="run envoy --mode validate on a config file")
    validate.add_argument("file", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "validate":
            validate_config(args.file)
            print(f"{args.file}: OK", file=sys.stderr)
            return 0
        descriptor: Path | bytes = args.descriptor
        if args.inline_descriptor:
            descriptor = args.descriptor.read_bytes()
        settings = registry.with_default_peers(Settings().with_peers(**dict(args.upstream)))
        text = render_envoy_config(
            settings,
            descriptor=descriptor,
            upstreams=registry.upstreams(settings.peers),
            admin_address=args.admin_address,
        )
        if args.validate:
            validate_config(text)
        if args.out is None:
            sys.stdout.write(text)
        else:
            args.out.write_text(text, encoding="utf-8")
    except (EnvoyError, DescriptorError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
