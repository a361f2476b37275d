"""What the API, the dashboard, the workers and the CLI read: one module per read model,
always scoped to one merchant and one mode where merchants read.

- :mod:`~projections.queries.paging`: pages, cursors and limits for all of them
- :mod:`~projections.queries.links`, :mod:`~projections.queries.payments`,
  :mod:`~projections.queries.ledger`, :mod:`~projections.queries.stats`,
  :mod:`~projections.queries.feed`, :mod:`~projections.queries.outbox`,
  :mod:`~projections.queries.settlements`: each read model's queries and typed rows
- :mod:`~projections.queries.live`: the positions a live dashboard page follows
"""
