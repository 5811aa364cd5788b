"""The client fixtures for a normal run of the suite (the isolated run loads them with `-p`)."""

from tests.client.fixtures import *  # noqa: F403
