"""Payment channels: what a customer is told to do, and the signed reports that come back."""
