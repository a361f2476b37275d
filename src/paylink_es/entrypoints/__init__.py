"""paylink_es.entrypoints."""
