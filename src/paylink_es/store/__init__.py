"""paylink_es.store."""
