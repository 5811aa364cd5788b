"""Running a rollout with a failure threshold and a cap: the README's walk-through."""

from rollout_api import Client
from rollout_api.rollout.models import CreateArgsFailureThreshold

with Client() as client:  # a backend or admin key: ClaimDevices and SetDeviceState are the updater's
    project = "//api.cesanta.com/project_123"
    rollout = client.rollout.create(
        projectid=project,
        firmwareid="fw-2.2.0",
        device_filter="model=thermostat",
        failure_threshold=CreateArgsFailureThreshold(percent=20, min_reported=5),  # pause past 20 % failed
        max_in_progress=5,  # at most 5 devices updating at once
        device_timeout=600,  # a device silent for 10 minutes has failed
        auto_finish=True,
    )
    client.rollout.add_devices(projectid=project, rolloutid=rollout.id, devices=[f"th-{n:02d}" for n in range(10)])
    client.rollout.set_state(projectid=project, rolloutid=rollout.id, state="inProgress")

    # An updater takes work: it gets at most as many devices as the cap leaves room for.
    claimed = client.rollout.claim_devices(projectid=project, rolloutid=rollout.id, limit=100)
    print("claimed", [device.id for device in claimed])
    for n, device in enumerate(claimed):  # ... updates them, and reports; two of them fail
        if n in (1, 3):
            client.rollout.set_device_state(
                projectid=project, rolloutid=rollout.id, deviceid=device.id, state="failed", reason="flash write error"
            )
        else:
            client.rollout.set_device_state(
                projectid=project, rolloutid=rollout.id, deviceid=device.id, state="succeeded"
            )

    # The fifth report reached minReported with 2 of 5 failed: the service paused the rollout by itself.
    paused = client.rollout.get(projectid=project, rolloutid=rollout.id)
    print(paused.state, paused.counts.model_dump())
    print(paused.reason)

    # Someone looks at the failures, resumes, and the updater finishes the job.
    client.rollout.set_state(projectid=project, rolloutid=rollout.id, state="inProgress")
    for device in client.rollout.claim_devices(projectid=project, rolloutid=rollout.id, limit=100):
        client.rollout.set_device_state(projectid=project, rolloutid=rollout.id, deviceid=device.id, state="succeeded")
    done = client.rollout.get(projectid=project, rolloutid=rollout.id)
    print(done.state, done.counts.model_dump())
    print(done.reason)
    for event in client.rollout.iter_list_events(projectid=project, rolloutid=rollout.id):
        if event.deviceid is None:  # the rollout's own moves; its devices' moves are there too
            print(f"{event.from_} -> {event.to} {event.reason or ''}".rstrip())
