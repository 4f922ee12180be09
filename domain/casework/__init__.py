"""A case's life: opening, steps, decisions, escalations, visits, returns and the no-silent-case invariant."""
