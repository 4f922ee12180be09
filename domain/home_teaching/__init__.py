"""送教上门 (home teaching): one plan per child, its reminders and its ledger."""
