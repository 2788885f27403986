"""The database layer: where the server is, how to connect, and the schema migrations."""

from journal_pipeline.db.connection import admin_url, connect, pipeline_url, redact

__all__ = ["admin_url", "connect", "pipeline_url", "redact"]
