"""Shared plumbing of every Feedback Mesh service: settings, logging, the gRPC
server bootstrap, health, metrics, auth, error mapping and storage clients."""
