"""Storage: the engine and a command's transaction, hot-path SQL, the tables and their migrations."""
