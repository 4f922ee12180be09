"""四查三比对: cross-matching the household-registration list, the student-record export, the poverty and
disability lists and the roll-call results, so children nobody noticed are found (DOMAIN.md §3)."""
