"""Paylink ES: payment links on an event-sourced ledger."""

__version__ = "0.1.0"
