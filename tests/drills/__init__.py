"""Fault drills: kill -9, Bot API chaos, cut database connections, random inputs."""
