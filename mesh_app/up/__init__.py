"""``feedbackmesh up`` and ``feedbackmesh demo-data``: the whole mesh on one machine.

``ports`` plans and checks the ports, ``stores`` brings up (or points at) PostgreSQL, Redis
and ClickHouse, ``supervisor`` runs and restarts every process it starts (``liveness``
notices one that hangs, ``logrotate`` caps their logs, ``rundir`` keeps the lock and the
status file), ``readiness`` waits for health checks, ``mesh`` ties them together,
``demo_data`` loads sample feedback.
"""
