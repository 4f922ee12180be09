"""Ledgers, overview numbers and the 四个一 reports (monthly, quarterly, term, year) with their workbooks."""
