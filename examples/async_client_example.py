"""The same calls with AsyncClient, plus a batch: several commands in one frame."""

import asyncio

from rollout_api import AsyncClient


async def main() -> None:
    async with AsyncClient() as client:  # ROLLOUT_API_URL and ROLLOUT_API_KEY, as Client()
        project = "//api.cesanta.com/project_123"
        rollout = await client.rollout.create(projectid=project, firmwareid="fw-2.1.0", device_filter="room=Kitchen")
        async with client.batch() as batch:
            added = batch.rollout.add_devices(projectid=project, rolloutid=rollout.id, devices=["dev-9"])
            got = batch.rollout.get(projectid=project, rolloutid=rollout.id)
        added.result()
        print(got.result().state)
        async for item in client.rollout.iter_list(projectid=project):
            print(item.id, item.name, item.state)


asyncio.run(main())
