"""Feedback Mesh's public gRPC API for Python.

The subpackages ``feedbackmesh.<service>.v1`` are generated from ``protos/`` by
``python scripts/generate.py``; do not edit them by hand.
"""

__version__ = "0.2.0"
