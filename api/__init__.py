"""The HTTP face of Paylink ES: merchant API, callbacks, hosted page, dashboard."""
