"""Feedback Mesh's public gRPC API for Python.

The subpackages ``feedbackmesh.<service>.v1`` are generated from ``protos/`` by
``python scripts/generate.py``; do not edit them by hand. ``feedbackmesh.client`` is the
hand-written facade over them (its blocking client, ``sync.py``, is generated too).
"""

__version__ = "0.2.0"
