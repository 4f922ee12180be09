"""HTTP side: the Telegram webhook endpoint, health check, and (later) the coordinators' dashboard."""
