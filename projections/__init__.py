"""Read models built from the ledger's events, and the runner that feeds them."""
