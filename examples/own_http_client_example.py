"""The client over an httpx.Client of your own: its settings apply to every call, and you close it."""

import os

import httpx
from rollout_api import Client, Error

project = "//api.cesanta.com/project_123"
url = os.environ.get("ROLLOUT_API_URL", "http://127.0.0.1:8000")
with (
    httpx.Client(base_url=url, headers={"User-Agent": "fleet-backend/1.0"}) as http,
    Client(http_client=http, timeout=httpx.Timeout(10.0, connect=2.0)) as client,
):
    for rollout in client.rollout.iter_list(projectid=project, state="inProgress"):
        print(rollout.id, rollout.name)
    try:
        client.rollout.create(projectid=project, firmwareid="fw-2.1.0", device_filter="Bathroom")
    except Error as error:  # every error the client raises; here InvalidArgument, before anything is sent
        print(f"{type(error).__name__}: {error}")
