"""Reminders, digests and escalation messages: planning, rules, text, delivery and what a tap does."""
