"""Feedback Mesh: feedback collection, sentiment and analytics for AI agents.

The subpackages ``feedbackmesh.<service>.v1`` are generated from ``protos/`` by
``python scripts/generate.py``; do not edit them by hand.
"""

__version__ = "0.1.0"
