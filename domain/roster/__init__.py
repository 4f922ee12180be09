"""Roster import: areas, schools, classes, staff and pupils from .xlsx/.csv files."""
