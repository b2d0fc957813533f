"""The REST API: keys on every route, limits, predictions equal to the offline path, and the
model following its registry alias without dropping a request."""

from __future__ import annotations

import base64
import math
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from helpers import OfflineFeatures

OPEN = {"/healthz", "/readyz"}


def _rows(frame: pd.DataFrame, names: list[str], timed: bool) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict("records"):
        row = {n: (None if math.isnan(rec[n]) else float(rec[n])) for n in names}
        if timed:
            row["t_s"] = float(rec["t_s"])
        out.append(row)
    return out


def test_every_route_but_health_needs_a_key(served: Any) -> None:
    client: TestClient = served.client
    spec = client.get("/openapi.json", headers=served.auth()).json()
    checked = 0
    for path, methods in spec["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in methods:
            bare = client.request(method, url)
            if path in OPEN:
                assert bare.status_code in (200, 503), (method, path)
                continue
            # the document says so too
            assert {"401", "403", "429"} <= set(methods[method]["responses"]), (method, path)
            assert bare.status_code == 401, (method, path, bare.status_code)
            assert "API key" in bare.json()["detail"]
            wrong = client.request(method, url, headers={"X-API-Key": "emb_00000000_nope"})
            assert wrong.status_code == 401, (method, path)
            checked += 1
    assert checked >= 5  # predict, models, current, one version, metrics
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"model": "ok", "store": "ok"}


def test_scopes_body_size_and_rate_limits(
    service_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.config import get_settings
    from embercast.service.app import create_app

    monkeypatch.setenv("EMBERCAST_SERVICE_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("EMBERCAST_SERVICE_RATE_PER_S", "3")
    get_settings.cache_clear()
    app = create_app(get_settings())
    key = app.state.service.keys.create("reader", "read")[1]
    auth = {"X-API-Key": key}
    with TestClient(app) as client:
        other = client.post("/v1/predict", headers=auth, json={"rows": [{}], "model": "fire/1"})
        assert other.status_code == 403 and "'admin' scope" in other.json()["detail"]
        huge = client.post("/v1/predict", headers=auth, content=b"{" + b" " * 4096 + b"}")
        assert huge.status_code == 413 and "service_max_body_bytes" in huge.json()["detail"]
        # the bucket holds 3 requests; the 4th in the same instant waits
        codes = [client.get("/v1/models/current", headers=auth).status_code for _ in range(6)]
        assert 429 in codes and codes[0] == 200
        limited = client.get("/v1/models/current", headers=auth)
        if limited.status_code == 429:
            assert int(limited.headers["Retry-After"]) >= 1
        assert client.get("/healthz").status_code == 200  # health is never limited
        bad = client.post("/v1/predict", headers={"X-API-Key": key}, json={"rows": []})
        assert bad.status_code in (422, 429)


def test_predict_rows_equal_the_offline_scores_and_alarms(served: Any, features: Path) -> None:
    from embercast.evaluation.feature_data import load_features
    from embercast.evaluation.metrics import outcomes
    from embercast.lifecycle.registry import Registry

    client: TestClient = served.client
    current = client.get("/v1/models/current", headers=served.auth()).json()
    assert (current["name"], current["version"]) == ("fire", 1)
    names = current["features"]
    detector = Registry().load("fire@champion")
    data = load_features(str(features))
    fires = [s for s, (_, is_fire, _) in data.scenarios.items() if is_fire]
    rows = data.rows[data.rows["scenario_id"] == fires[0]]
    device = rows[rows["device_id"] == rows["device_id"].iloc[0]].sort_values("t_s")
    expected = detector.predict_proba(device[names])[:, 1]

    plain = client.post(
        "/v1/predict", headers=served.auth(), json={"rows": _rows(device, names, False)}
    )
    assert plain.status_code == 200, plain.text
    got = [p["p_fire"] for p in plain.json()["predictions"]]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert all(p["alarm"] is None for p in plain.json()["predictions"])
    one = client.post(
        "/v1/predict", headers=served.auth(), json={"rows": _rows(device, names, False)[-1:]}
    )
    assert one.json()["predictions"][0]["p_fire"] == pytest.approx(expected[-1], abs=1e-12)

    timed = client.post(
        "/v1/predict", headers=served.auth(), json={"rows": _rows(device, names, True)}
    )
    body = timed.json()
    assert body["model"]["operating_point"]["threshold"] == detector.alarm_.threshold
    onsets = [p["t_s"] for p in body["predictions"] if p["onset"]]
    (offline,) = outcomes(device, expected, data.scenarios, detector.alarm_)
    first = onsets[0] if onsets else None
    assert first == offline.detect_s
    assert first is not None  # the model finds this fire

    unknown = client.post("/v1/predict", headers=served.auth(), json={"rows": [{"t_maxx": 1.0}]})
    assert unknown.status_code == 422 and "t_maxx" in unknown.json()["detail"]


def test_predict_device_raw_data_equals_the_offline_fold(
    served: Any, frames_dataset: Path, offline_features: OfflineFeatures
) -> None:
    import pyarrow.parquet as pq

    from embercast.lifecycle.registry import Registry

    _, location = offline_features("extended")
    table = pq.read_table(location / "features").to_pandas()
    readings = pq.read_table(frames_dataset / "readings").to_pandas()
    frames = pq.read_table(frames_dataset / "frames").to_pandas()
    sid = sorted(readings["scenario_id"].unique())[0]
    dev = sorted(readings.loc[readings["scenario_id"] == sid, "device_id"].unique())[0]
    mine = readings[(readings["scenario_id"] == sid) & (readings["device_id"] == dev)]
    mine = mine.sort_values("t_s").head(24)
    shots = frames[(frames["scenario_id"] == sid) & (frames["device_id"] == dev)]
    shots = shots.sort_values("t_s")
    # the frames the stream uses: the latest at or before t and at or before t - 1 s
    t_frames = shots["t_s"].to_numpy()
    used = set()
    for t in mine["t_s"]:
        for at in (t, t - 1.0):
            k = np.searchsorted(t_frames, at + 1e-6, side="right") - 1
            if k >= 0:
                used.add(int(k))
    payload = {
        "device_id": dev,
        "readings": [
            {
                "ts": float(r.t_s),
                "co2_ppm": _num(r.co2_ppm),
                "temperature_c": _num(r.temperature_c),
                "humidity_pct": _num(r.humidity_pct),
            }
            for r in mine.itertuples()
        ],  # fmt: skip
        "frames": [
            {
                "ts": float(f.t_s),
                "ffc": bool(f.ffc),
                "gain": f.gain,
                "data": base64.b64encode(f.frame).decode(),
            }
            for f in shots.iloc[sorted(used)].itertuples()
        ],  # fmt: skip
    }
    answer = served.client.post("/v1/predict", headers=served.auth(), json={"device": payload})
    assert answer.status_code == 200, answer.text[:500]
    got = answer.json()["predictions"]
    offline = table[(table["scenario_id"] == sid) & (table["device_id"] == dev)].sort_values("t_s")
    offline = offline.head(len(mine))
    detector = Registry().load("fire@champion")
    names = list(detector.feature_names_in_)
    expected = detector.predict_proba(offline[names])[:, 1]
    assert [p["t_s"] for p in got] == offline["t_s"].tolist()
    assert [p["thermal_status"] for p in got] == offline["thermal_status"].tolist()
    assert "ok" in offline["thermal_status"].tolist()  # the camera's features are compared too
    np.testing.assert_allclose([p["p_fire"] for p in got], expected, rtol=0, atol=1e-12)
    # a frame of the wrong size is refused with the reason
    payload["frames"][0]["data"] = base64.b64encode(b"\0" * 100).decode()
    bad = served.client.post("/v1/predict", headers=served.auth(), json={"device": payload})
    assert bad.status_code == 422 and "38400 bytes" in bad.text


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def test_the_model_follows_its_alias_without_dropping_requests(served: Any, features: Path) -> None:
    from embercast.lifecycle.registry import Registry
    from embercast.models.factory import make_detector

    client: TestClient = served.client
    state = client.app.state.service  # type: ignore[attr-defined]
    registry = Registry()
    names = list(registry.load("fire@champion").feature_names_in_)
    row = {"rows": [dict.fromkeys(names, 0.0)]}
    seen: list[tuple[int, int | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            r = client.post("/v1/predict", headers=served.auth(), json=row)
            seen.append((r.status_code, r.json().get("model", {}).get("version")))

    from embercast.evaluation.feature_data import load_features

    data = load_features(str(features))
    train = data.split(("train",))
    second = make_detector("gbm").fit(train[names], train["fire"].to_numpy())
    second.alarm_ = registry.load("fire@champion").alarm_
    _, version = registry.log_training(second, params={}, metrics={}, tags={}, register="fire")
    assert version == 2
    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        assert state.refresh_model() is False  # the champion has not moved
        registry.client.set_registered_model_alias("fire", "champion", "2")
        assert state.refresh_model() is True
        while not any(v == 2 for _, v in seen):
            pass
    finally:
        stop.set()
        worker.join()
    assert {code for code, _ in seen} == {200}
    assert client.get("/v1/models/current", headers=served.auth()).json()["version"] == 2
    metrics = client.get("/metrics", headers=served.auth()).text
    assert "embercast_model_swaps_total 1.0" in metrics
    assert 'embercast_model_version{name="fire"} 2.0' in metrics


def test_without_a_loadable_model_the_service_is_not_ready(
    service_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.config import get_settings
    from embercast.service.app import create_app

    monkeypatch.setenv("EMBERCAST_MODEL_REF", "fire@nobody")
    get_settings.cache_clear()
    app = create_app(get_settings())
    key = app.state.service.keys.create("reader", "read")[1]
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "fire@nobody" in ready.json()["checks"]["model"]
        answer = client.post("/v1/predict", headers={"X-API-Key": key}, json={"rows": [{}]})
        assert answer.status_code == 503 and "no model is loaded" in answer.json()["detail"]


def test_metrics_count_requests_by_route_and_status(served: Any) -> None:
    client: TestClient = served.client
    for _ in range(3):
        assert client.get("/v1/models/current", headers=served.auth()).status_code == 200
    assert client.get("/v1/models/current").status_code == 401
    assert client.get("/nowhere", headers=served.auth()).status_code == 404
    text = client.get("/metrics", headers=served.auth()).text
    assert 'embercast_requests_total{route="/v1/models/current",status="200"} 3.0' in text
    assert 'embercast_requests_total{route="/v1/models/current",status="401"} 1.0' in text
    assert 'embercast_requests_total{route="unmatched",status="404"} 1.0' in text
    assert 'embercast_request_seconds_count{route="/v1/models/current"} 4.0' in text


def test_models_list_by_name_and_unknown_name(served: Any) -> None:
    client: TestClient = served.client
    listed = client.get("/v1/models", params={"name": "fire"}, headers=served.auth())
    assert listed.status_code == 200 and [v["version"] for v in listed.json()] == [1]
    unknown = client.get("/v1/models", params={"name": "nope"}, headers=served.auth())
    assert unknown.status_code == 404 and "no registered model 'nope'" in unknown.json()["detail"]
