"""Persistence: SQLAlchemy 2 tables, repositories and the unit of work (SQLite and PostgreSQL)."""
