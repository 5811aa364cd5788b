"""The RPC front: the ASGI entry for POST /v1 and the per-method routes, frames, dispatch and JSON out."""
