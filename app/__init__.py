"""The Rollout service: the generated contract implemented on SQLModel, served by FastAPI."""
