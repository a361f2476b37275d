"""Read models built from the event store's events, and the runner that feeds them."""
