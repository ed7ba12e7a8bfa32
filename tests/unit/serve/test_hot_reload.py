"""Hot reload on a real uvicorn server: moving @champion in the registry switches the
answering version with zero failed requests while clients fire continuously."""

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from mlflow import MlflowClient

from pipelines.serve.app import create_app

KEY = "reload-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def server(registry, tmp_path, make_service):
    service = make_service(registry["uri"], f"sqlite:///{tmp_path / 'p.db'}",
                           api_keys=frozenset({KEY}), poll_seconds=0.2)
    port = free_port()
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False)
    uvi = uvicorn.Server(config)
    thread = threading.Thread(target=uvi.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uvi.started:
        assert time.monotonic() < deadline, "server did not start within 60 s"
        assert thread.is_alive(), "server thread died during startup"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uvi.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_moving_champion_reloads_without_failed_requests(server, registry, serve_posts):
    post = serve_posts.iloc[650]
    body = {"post_id": post["post_id"], "account_id": post["account_id"],
            "platform": post["platform"], "content_type": post["content_type"],
            "posted_at": post["posted_at"].isoformat(), "caption": post["caption"] or "",
            "followers_at_post_time": int(post["followers_at_post_time"])}
    old, new = registry["versions"]["ridge"], registry["versions"]["random_forest"]
    results: list[tuple[float, int, str | None]] = []
    errors: list[str] = []
    stop = threading.Event()

    def fire() -> None:
        with httpx.Client(base_url=server, headers={"X-API-Key": KEY}, timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.post("/predict", json=body)
                except httpx.HTTPError as error:
                    errors.append(repr(error))
                    continue
                version = (response.json()["predictions"][0]["model_version"]
                           if response.status_code == 200 else None)
                results.append((time.monotonic(), response.status_code, version))

    clients = [threading.Thread(target=fire) for _ in range(2)]
    for thread in clients:
        thread.start()
    registry_client = MlflowClient()
    try:
        time.sleep(1.0)
        moved_at = time.monotonic()
        registry_client.set_registered_model_alias("m", "champion", new)
        deadline = time.monotonic() + 30
        while not any(v == new for _, _, v in results[-20:]):
            assert time.monotonic() < deadline, "responses never switched to the new version"
            time.sleep(0.1)
        time.sleep(1.0)
        metrics = httpx.get(f"{server}/metrics").text      # before the alias moves back
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=15)
        registry_client.set_registered_model_alias("m", "champion", old)

    assert errors == []
    assert len(results) > 50
    assert {status for _, status, _ in results} == {200}
    versions = [v for _, _, v in results]
    assert versions[0] == old and versions[-1] == new
    switched = min(t for t, _, v in results if v == new)
    assert switched > moved_at
    # once the new model answers, every request issued afterwards gets it
    assert all(v == new for t, _, v in results if t > switched + 0.5)
    assert 'engageflow_model_reloads_total{result="ok"} 1' in metrics
