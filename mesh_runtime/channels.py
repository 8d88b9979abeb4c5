"""gRPC options shared by the mesh's servers and the channels between services."""

from __future__ import annotations

from mesh_runtime.settings import Settings


def channel_options(settings: Settings) -> list[tuple[str, int | str]]:
    limit = settings.grpc_max_message_bytes
    return [
        ("grpc.max_send_message_length", limit),
        ("grpc.max_receive_message_length", limit),
    ]
