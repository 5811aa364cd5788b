"""Create a rollout, add devices, start it, and report progress: the README's client example."""

from rollout_api import Client, Conflict

with Client() as client:  # ROLLOUT_API_URL (default http://127.0.0.1:8000) and ROLLOUT_API_KEY
    project = "//api.cesanta.com/project_123"
    rollout = client.rollout.create(projectid=project, firmwareid="fw-2.1.0", device_filter="location=Bathroom")
    client.rollout.add_devices(projectid=project, rolloutid=rollout.id, devices=["dev-1", "dev-2", "dev-3"])
    client.rollout.set_state(projectid=project, rolloutid=rollout.id, state="inProgress")
    client.rollout.set_device_state(projectid=project, rolloutid=rollout.id, deviceid="dev-1", state="succeeded")
    for device in client.rollout.iter_list_devices(projectid=project, rolloutid=rollout.id):
        print(device.id, device.state)
    try:
        client.rollout.set_state(projectid=project, rolloutid=rollout.id, state="init")
    except Conflict as error:
        print("refused:", error.status_msg)
