"""The composition root of Feedback Mesh: the service registry, the ``feedbackmesh``
command and ``feedbackmesh up``.

This is the top floor: it imports the services, the gateway and the runtime; nothing
imports it.
"""

__version__ = "0.2.0"
