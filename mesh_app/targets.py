"""Building the targets a process serves, by name, from the registry."""

from __future__ import annotations

from collections.abc import Sequence

from mesh_app import registry
from mesh_runtime.resources import Resources
from mesh_runtime.settings import Settings
from mesh_runtime.targets import ServiceTarget


async def create_targets(
    names: Sequence[str], settings: Settings, resources: Resources
) -> list[ServiceTarget]:
    return [
        await registry.spec(name).load_factory()(settings, resources)
        for name in dict.fromkeys(names)
    ]
