"""paylink_es.application.app."""
