"""Minors' data (PIPL): identity masking, ID numbers in free text, retention, erasure, subject requests."""
