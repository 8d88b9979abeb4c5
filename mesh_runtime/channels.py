"""gRPC options shared by the mesh's servers and the channels between services."""

from __future__ import annotations

from mesh_runtime.settings import Settings

# gRPC metadata (headers) a server or channel accepts. gRPC's default (8 KiB, and between
# 8 and 16 KiB a random share refused) is below what the gateway forwards for a request it
# accepts (gateway.refusals: up to 32 KiB of headers plus the 8 KiB URL again), so a long
# query string came back RESOURCE_EXHAUSTED on some tries, its message listing headers.
MAX_METADATA_BYTES = 64 * 1024


def channel_options(settings: Settings) -> list[tuple[str, int | str]]:
    limit = settings.grpc_max_message_bytes
    return [
        ("grpc.max_send_message_length", limit),
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
    ]
