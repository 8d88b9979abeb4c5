"""Read the gateway's descriptor set: which RPCs exist and how they are bound to HTTP.

The Envoy config needs per-method routes (retries only for idempotent calls, longer
timeouts for exports), so the method list comes from the same descriptor set that the
transcoder loads; a method added to a proto gets its route without touching this package.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

logger = logging.getLogger(__name__)

# Name prefixes of RPCs that change nothing (sentiment scoring is a pure function).
_READ_ONLY_PREFIXES = ("Get", "List", "Export", "Analyze", "BatchAnalyze")


class DescriptorError(ValueError):
    """The descriptor set is missing, unreadable, or lacks a required service."""


@dataclass(frozen=True)
class Method:
    service: str  # fully-qualified, e.g. feedbackmesh.sentiment.v1.SentimentService
    name: str  # e.g. AnalyzeSentiment
    http_verb: str | None  # "get", "post", ... from google.api.http; None if unannotated
    http_path: str | None
    server_streaming: bool

    @property
    def grpc_path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def idempotent(self) -> bool:
        """Safe to retry: an HTTP GET binding, or a method that by contract only reads."""
        return self.http_verb == "get" or self.name.startswith(_READ_ONLY_PREFIXES)

    @property
    def is_export(self) -> bool:
        return self.name.startswith("Export") or self.server_streaming

    @property
    def is_watch(self) -> bool:
        """A live stream (server-sent events through the gateway): open for as long as
        the client listens."""
        return self.server_streaming and self.name.startswith("Watch")


def load_descriptor_bytes(descriptor: Path | bytes) -> bytes:
    if isinstance(descriptor, bytes):
        return descriptor
    try:
        return descriptor.read_bytes()
    except OSError as exc:
        raise DescriptorError(
            f"cannot read descriptor set {descriptor}: {exc}; "
            "run `python scripts/generate.py` to build gateway/generated/feedbackmesh.pb"
        ) from exc


def _http_binding(options: descriptor_pb2.MethodOptions) -> tuple[str | None, str | None]:
    if not options.HasExtension(annotations_pb2.http):
        return None, None
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    verb = rule.WhichOneof("pattern")
    if verb is None:
        return None, None
    if verb == "custom":
        return rule.custom.kind.lower(), rule.custom.path
    return verb, str(getattr(rule, verb))


def _messages(fds: descriptor_pb2.FileDescriptorSet) -> dict[str, descriptor_pb2.DescriptorProto]:
    """Fully-qualified name (leading dot, as in type_name) -> message, nested ones included."""
    index: dict[str, descriptor_pb2.DescriptorProto] = {}

    def add(prefix: str, message: descriptor_pb2.DescriptorProto) -> None:
        name = f"{prefix}.{message.name}"
        index[name] = message
        for nested in message.nested_type:
            add(name, nested)

    for file in fds.file:
        for message in file.message_type:
            add(f".{file.package}" if file.package else "", message)
    return index


def _unsupported_response_body(
    method: descriptor_pb2.MethodDescriptorProto,
    messages: dict[str, descriptor_pb2.DescriptorProto],
) -> str | None:
    """Envoy's transcoder refuses ``response_body`` unless it names a google.api.HttpBody
    field ("Setting response_body is not supported yet for non-HttpBody fields") and then
    fails to start; say so here, naming the proto, rather than in Envoy's log."""
    if not method.options.HasExtension(annotations_pb2.http):
        return None
    rule: http_pb2.HttpRule = method.options.Extensions[annotations_pb2.http]
    if not rule.response_body:
        return None
    output = messages.get(method.output_type)
    fields = {f.name: f for f in output.field} if output is not None else {}
    target = fields.get(rule.response_body)
    if target is not None and target.type_name == ".google.api.HttpBody":
        return None
    return f"{method.name} (response_body: {rule.response_body!r})"


def service_methods(descriptor: Path | bytes, services: Sequence[str]) -> dict[str, list[Method]]:
    """Map each requested fully-qualified service to its methods, in proto order."""
    wanted = list(services)
    fds = descriptor_pb2.FileDescriptorSet()
    try:
        fds.ParseFromString(load_descriptor_bytes(descriptor))
    except Exception as exc:  # protobuf raises DecodeError or RuntimeError (upb)
        raise DescriptorError(f"not a FileDescriptorSet: {exc}") from exc

    messages = _messages(fds)
    found: dict[str, list[Method]] = {}
    unsupported: list[str] = []
    for file in fds.file:
        for svc in file.service:
            full = f"{file.package}.{svc.name}" if file.package else svc.name
            if full not in wanted:
                continue
            methods = []
            for m in svc.method:
                verb, path = _http_binding(m.options)
                problem = _unsupported_response_body(m, messages)
                if problem is not None:
                    unsupported.append(f"{full}.{problem}")
                methods.append(Method(full, m.name, verb, path, m.server_streaming))
            found[full] = methods

    if unsupported:
        raise DescriptorError(
            "Envoy's gRPC-JSON transcoder supports google.api.http `response_body` only for "
            "google.api.HttpBody fields; remove it (or return HttpBody) in: "
            + ", ".join(unsupported)
        )
    missing = [s for s in wanted if s not in found]
    if missing:
        raise DescriptorError(f"descriptor set lacks services: {', '.join(missing)}")
    for full, methods in found.items():
        unbound = [m.name for m in methods if m.http_verb is None]
        if unbound:
            # Internal RPCs (outbox, IngestEvents): not part of the public surface.
            logger.debug("%s: internal (no google.api.http) %s", full, ", ".join(unbound))
    return {s: found[s] for s in wanted}
