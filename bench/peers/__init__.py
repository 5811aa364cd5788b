"""The peers the benchmark compares the service with: small ASGI apps doing the same work on the same database.

Each is its own module, served by uvicorn with one worker, and reads the database from the environment:
`DATABASE_URL` (an SQLAlchemy URL, SQLite or PostgreSQL) for the SQLModel-based ones, `DATABASE` (a SQLite
file path) for the raw one. The SQLModel-based ones size their connection pool from `POOL_SIZE` and
`MAX_OVERFLOW` (default 20 and 20: as many connections as the threadpool has threads).
"""
