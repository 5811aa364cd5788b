"""The Rollout service: the generated contract implemented on SQL (SQLAlchemy tables and migrations, driver
cursors on the hot path), served by its own ASGI front with FastAPI for the docs."""
