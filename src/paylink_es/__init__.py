"""Paylink ES: payment links on an event-sourced paylink."""

__version__ = "0.1.0"
