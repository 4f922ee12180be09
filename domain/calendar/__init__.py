"""The school calendar as data: holidays, make-up working days, terms, working and school days."""
