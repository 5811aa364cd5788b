"""The rollout dashboard at /ui/: a static page, served from package data, that calls the public API."""
