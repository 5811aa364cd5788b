"""Generate typed models, a client and a server contract from JSON method definitions."""
