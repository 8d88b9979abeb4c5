"""Trained sentiment model artefacts (package data; see README.md in this folder)."""
