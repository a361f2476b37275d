"""paylink_es.domain."""
