"""Composition root: settings, CLI and process wiring for Not One Less."""
