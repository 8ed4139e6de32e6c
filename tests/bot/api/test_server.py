"""`toxmod serve` end to end: Google's own API client and Perspective's documented requests against the
running server; keys, rate limits, body limits; toxmod's batch endpoint with a guild's thresholds; health,
metrics and CORS; the command itself."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from bot.api import server
from bot.cli import main
from bot.labels import LABELS
from bot.settings import PROJECT_ROOT, Settings
from bot.storage.database import Database
from bot.storage.guilds import update_guild_settings
from tests.bot.api.conftest import StartServer
from tests.support.postgres import free_port

ATTRIBUTES = ["TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT"]


def call(url: str, body: bytes | dict | None = None, headers: dict[str, str] | None = None,
         method: str | None = None) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body or text) of one request, errors included."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), dict(exc.headers)
    try:
        return status, got, json.loads(raw)
    except ValueError:
        return status, got, raw.decode()


def analyze(url: str, body: bytes | dict, key: str | None = None) -> tuple[int, Any]:
    query = f"?key={key}" if key else ""
    status, _, answer = call(f"{url}/v1alpha1/comments:analyze{query}", body)
    return status, answer


# -- Perspective, with clients nobody here wrote ------------------------------------------------------------
def test_googles_api_client_works_unchanged_against_toxmod(start_server: StartServer) -> None:
    url = start_server(api_keys="my-key")
    client = discovery.build("commentanalyzer", "v1alpha1", developerKey="my-key", static_discovery=False,
                             discoveryServiceUrl=f"{url}/$discovery/rest?version=v1alpha1")
    body = {"comment": {"text": "you are a stupid idiot"}, "requestedAttributes": {name: {} for name in ATTRIBUTES},
            "languages": ["en"], "doNotStore": True, "clientToken": "abc-123"}
    response = client.comments().analyze(body=body).execute()
    assert set(response["attributeScores"]) == set(ATTRIBUTES)
    for scores in response["attributeScores"].values():
        assert scores["summaryScore"]["type"] == "PROBABILITY" and 0 <= scores["summaryScore"]["value"] <= 1
    assert response["languages"] == ["en"] and response["clientToken"] == "abc-123"
    with pytest.raises(HttpError) as refused:  # and a wrong key comes back as Google's error
        discovery.build("commentanalyzer", "v1alpha1", developerKey="wrong", static_discovery=False,
                        discoveryServiceUrl=f"{url}/$discovery/rest?version=v1alpha1"
                        ).comments().analyze(body=body).execute()
    assert refused.value.resp.status == 400 and "API key not valid" in str(refused.value)


def test_the_scores_are_toxmods_labels_under_perspectives_names(api_url: str) -> None:
    text = "you are a stupid idiot"
    _, _, ours = call(f"{api_url}/v1/score", {"texts": [text]})
    status, theirs = analyze(api_url, {"comment": {"text": text}, "requestedAttributes": {n: {} for n in ATTRIBUTES}})
    assert status == 200
    mapping = dict(zip(ATTRIBUTES, ["toxic", "severe_toxic", "identity_hate", "insult", "obscene", "threat"],
                       strict=True))
    for name, label in mapping.items():
        assert theirs["attributeScores"][name]["summaryScore"]["value"] == pytest.approx(
            ours["results"][0]["scores"][label], abs=1e-5)


def test_perspectives_documented_request_as_curl_sends_it(api_url: str) -> None:
    # Perspective's "Analyze a comment" example (conversationai/perspectiveapi, 1-get-started/sample-requests):
    # the body is written as a JavaScript object, with unquoted names, and Google's front end accepts it.
    raw = (b'{comment: {text: "what kind of idiot name is foo?"}, languages: ["en"], '
           b'requestedAttributes: {TOXICITY:{}} }')
    status, answer = analyze(api_url, raw, key="YOUR_KEY_HERE")
    assert status == 200, answer
    assert list(answer["attributeScores"]) == ["TOXICITY"]
    assert answer["languages"] == ["en"] and answer["detectedLanguages"] == ["en"]


def test_span_annotations_score_each_sentence_at_its_offsets(api_url: str) -> None:
    text = "Have a lovely day. You are a stupid idiot!"
    status, answer = analyze(api_url, {"comment": {"text": text}, "requestedAttributes": {"INSULT": {}},
                                       "spanAnnotations": True})
    assert status == 200
    spans = answer["attributeScores"]["INSULT"]["spanScores"]
    assert [text[s["begin"]:s["end"]] for s in spans] == ["Have a lovely day.", "You are a stupid idiot!"]
    assert spans[1]["score"]["value"] > spans[0]["score"]["value"]


def test_a_comment_of_many_sentences_costs_a_bounded_number_of_spans(api_url: str) -> None:
    text = " ".join(f"Sentence number {i}." for i in range(500))
    status, answer = analyze(api_url, {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}},
                                       "spanAnnotations": True})
    spans = answer["attributeScores"]["TOXICITY"]["spanScores"]
    assert status == 200 and len(spans) <= 32
    assert spans[0]["begin"] == 0 and spans[-1]["end"] == len(text)  # the groups still cover the whole text
    assert all(a["end"] < b["begin"] for a, b in itertools.pairwise(spans))


def test_score_thresholds_leave_out_what_is_below_them(api_url: str) -> None:
    status, answer = analyze(api_url, {"comment": {"text": "hello friend see you at the raid tonight"},
                                       "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.99},
                                                               "INSULT": {"scoreThreshold": 0.0}}})
    assert status == 200 and list(answer["attributeScores"]) == ["INSULT"]


# -- errors, keys, limits ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}', 400, "Invalid JSON payload received."),
        ({"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}}, 400, "Comment must be non-empty."),
        ({"comment": {"text": "x" * 20481}, "requestedAttributes": {"TOXICITY": {}}}, 400,
         "Comment text was too many bytes. Value (20481) exceeded limit (20480)."),
        ({"comment": {"text": "hi"}, "requestedAttributes": {"FLIRTATION": {}}}, 400,
         "Unknown requested attribute: FLIRTATION"),
        ({"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["fr"]}, 400,
         "Attribute TOXICITY does not support request languages: fr"),
    ],
    ids=["malformed-json", "empty", "over-20kb", "unknown-attribute", "unsupported-language"],
)
def test_bad_requests_get_perspectives_errors(api_url: str, body: bytes | dict, code: int, message: str) -> None:
    status, answer = analyze(api_url, body)
    assert status == code
    assert answer["error"]["code"] == code and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["message"].startswith(message)


def test_keys_are_required_once_configured_and_may_be_stored_hashed(start_server: StartServer,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--hash-key", "second-key"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("sha256:") and "second-key" not in hashed
    url = start_server(api_keys=f"first-key,{hashed}")
    body = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}
    assert analyze(url, body) == (403, {"error": {"code": 403, "message": "The request is missing a valid API key.",
                                                  "status": "PERMISSION_DENIED"}})
    status, answer = analyze(url, body, key="nope")
    assert status == 400 and answer["error"]["message"] == "API key not valid. Please pass a valid API key."
    assert analyze(url, body, key="first-key")[0] == 200
    assert analyze(url, body, key="second-key")[0] == 200
    status, _, _ = call(f"{url}/v1/score", {"texts": ["hi"]}, headers={"X-Goog-Api-Key": "second-key"})
    assert status == 200
    status, _, _ = call(f"{url}/v1/score", {"texts": ["hi"]}, headers={"Authorization": "Bearer first-key"})
    assert status == 200
    assert call(f"{url}/v1/score", {"texts": ["hi"]})[0] == 403


def test_each_key_has_its_own_rate_limit(start_server: StartServer) -> None:
    url = start_server(api_keys="a,b", api_rate_limit=0.01, api_rate_burst=2)
    body = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}
    assert [analyze(url, body, key="a")[0] for _ in range(3)] == [200, 200, 429]
    status, answer = analyze(url, body, key="a")
    assert status == 429 and answer["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert "Quota exceeded" in answer["error"]["message"]
    assert analyze(url, body, key="b")[0] == 200  # another key is not held up


def test_a_body_over_the_limit_is_refused_before_it_is_read(start_server: StartServer) -> None:
    url = start_server(api_max_body_bytes=4096)
    body = {"comment": {"text": "hi " * 3000}, "requestedAttributes": {"TOXICITY": {}}}
    status, answer = analyze(url, body)
    assert status == 413 and answer["error"]["message"] == "Request payload size exceeds the limit: 4096 bytes."
    assert call(f"{url}/v1/score", {"texts": ["hi"] * 2000})[0] == 413
    metrics = call(f"{url}/metrics")[2]  # counted as answered
    assert 'toxmod_api_requests_total{endpoint="/v1alpha1/comments:analyze",code="413"} 1' in metrics
    assert 'toxmod_api_requests_total{endpoint="/v1/score",code="413"} 1' in metrics


# -- toxmod's own endpoint ---------------------------------------------------------------------------------
def test_batch_scoring_answers_in_the_jsonl_contract(api_url: str) -> None:
    texts = ["you are a stupid idiot", "hello friend see you at the raid tonight"]
    status, _, answer = call(f"{api_url}/v1/score", {"texts": texts})
    assert status == 200 and answer["model"] == "tiny-v1"
    for text, result in zip(texts, answer["results"], strict=True):
        assert result["text"] == text and set(result["scores"]) == set(LABELS) and len(result["top"]) == 2
        assert result["model"] == "tiny-v1" and isinstance(result["flagged"], bool)
    assert [r["flagged"] for r in answer["results"]] == [True, False]


@pytest.mark.parametrize(
    ("body", "message"),
    [({"texts": []}, "texts must be a non-empty list"), ({"texts": ["ok", ""]}, "texts[1] is empty"),
     ({"texts": ["hi"], "model": "../etc"}, "Unknown model"), ({"texts": ["hi"], "guild_id": "x"}, "guild_id must be"),
     ({"texts": ["hi"] * 300}, "Too many texts"), ({"texts": ["hi"], "guild_id": 2**64}, "guild_id must be")],
)
def test_bad_batches_are_one_clear_error(api_url: str, body: dict, message: str) -> None:
    status, _, answer = call(f"{api_url}/v1/score", body)
    assert status == 400 and message in answer["error"]["message"]


def test_a_guild_id_applies_that_servers_thresholds(start_server: StartServer, sqlite_url: str) -> None:
    db = Database(sqlite_url).upgrade().start()
    db.write_sync(lambda s: update_guild_settings(s, 42, 1, "thresholds_set", {"thresholds": {"toxic": 0.01}}))
    db.close()
    url = start_server(db=Database(sqlite_url), database_url=sqlite_url)
    text = "hello friend see you at the raid tonight"
    assert not call(f"{url}/v1/score", {"texts": [text]})[2]["results"][0]["flagged"]
    assert call(f"{url}/v1/score", {"texts": [text], "guild_id": 42})[2]["results"][0]["flagged"]
    assert not call(f"{url}/v1/score", {"texts": [text], "guild_id": 7})[2]["results"][0]["flagged"]
    bot = Database(sqlite_url).start()  # the bot, in its own process, resets them: the server follows at once
    bot.write_sync(lambda s: update_guild_settings(s, 42, 1, "thresholds_reset", thresholds={}))
    bot.close()
    assert not call(f"{url}/v1/score", {"texts": [text], "guild_id": 42})[2]["results"][0]["flagged"]


async def test_a_model_dropped_from_the_pool_keeps_running_until_its_last_request_ends(
        models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Worker:  # stands in for a loaded model's scoring worker
        def __init__(self, name: str) -> None:
            self.model = SimpleNamespace(info=SimpleNamespace(path=models_dir / name), version=name)
            self.stopped = False

        def stop(self) -> None:
            self.stopped = True

    monkeypatch.setattr(server, "open_scorer", lambda settings: Worker(Path(settings.model_dir).name))
    monkeypatch.setattr(server.Models, "listing", lambda self: [{"name": n} for n in ("tiny-v1", "b", "c")])
    pool = server.Models(Settings.load(None, models_dir=models_dir), Worker("tiny-v1"), keep=1)  # type: ignore[arg-type]
    async with pool.use("b") as b:  # a request scoring with model b ...
        async with pool.use("c") as c:  # ... while another loads c, which drops b from the pool
            assert not b.stopped and not c.stopped
        assert not b.stopped  # b's request is still running
    assert b.stopped and not c.stopped
    async with pool.use(None) as current:
        assert current is pool.current
    await pool.close()
    assert c.stopped and pool.current.stopped


# -- operations --------------------------------------------------------------------------------------------
def test_health_and_metrics(api_url: str) -> None:
    status, _, health = call(f"{api_url}/healthz")
    assert status == 200 and health["status"] == "ok" and health["model"] == "tiny-v1" and health["queue_depth"] == 0
    call(f"{api_url}/v1/score", {"texts": ["a", "b", "c"]})
    analyze(api_url, {"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}})
    status, headers, metrics = call(f"{api_url}/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert 'toxmod_api_requests_total{endpoint="/v1/score",code="200"} 1' in metrics
    assert 'toxmod_api_requests_total{endpoint="/v1alpha1/comments:analyze",code="400"} 1' in metrics
    assert "toxmod_messages_scored_total 3" in metrics
    assert 'toxmod_api_request_duration_seconds_count{endpoint="/v1/score"} 1' in metrics
    assert "toxmod_scoring_queue_depth 0" in metrics and 'toxmod_model_info{version="tiny-v1"} 1' in metrics


def test_no_cors_unless_configured(start_server: StartServer) -> None:
    closed, open_ = start_server(), start_server(api_cors_origins="https://dash.example")
    headers = {"Origin": "https://dash.example"}
    assert "Access-Control-Allow-Origin" not in call(f"{closed}/v1/score", {"texts": ["hi"]}, headers)[1]
    status, got, _ = call(f"{open_}/v1/score", None, {**headers, "Access-Control-Request-Method": "POST"}, "OPTIONS")
    assert status == 204 and got["Access-Control-Allow-Origin"] == "https://dash.example"
    assert call(f"{open_}/v1/score", {"texts": ["hi"]}, headers)[1]["Access-Control-Allow-Origin"] == headers["Origin"]
    refused = call(f"{open_}/v1/score", {"texts": []}, headers)  # errors carry it too: the page can read them
    assert refused[0] == 400 and refused[1]["Access-Control-Allow-Origin"] == headers["Origin"]
    other = {"Origin": "https://evil.example"}
    assert "Access-Control-Allow-Origin" not in call(f"{open_}/v1/score", {"texts": ["hi"]}, other)[1]


# -- the command -------------------------------------------------------------------------------------------
def test_a_missing_model_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--port", str(free_port()), "--model", str(tmp_path / "gone")]) == 2
    assert capsys.readouterr().err.strip() == f"toxmod: model directory not found: {tmp_path / 'gone'}"


def test_serving_beyond_loopback_needs_keys(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--model", str(models_dir / "tiny-v1")]) == 2
    assert capsys.readouterr().err.strip().startswith("toxmod: refusing to serve on 0.0.0.0 without API_KEYS")


def test_toxmod_serve_starts_in_one_command_and_stops_on_ctrl_c(models_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MODELS_DIR": str(models_dir), "MODEL_DIR": "", "TUNING_CACHE": str(tmp_path / "e.json"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}", "SCORE_MAX_LENGTH": "32"}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], cwd=PROJECT_ROOT,
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline, status = time.monotonic() + 120, 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, _, health = call(f"http://127.0.0.1:{port}/healthz")
                break
            except urllib.error.URLError:
                time.sleep(0.2)
        assert status == 200 and health["model"] == "tiny-v1"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert f"http://127.0.0.1:{port}/" in err and not (tmp_path / "none.db").exists()  # nothing stored
    finally:
        if proc.poll() is None:
            proc.kill()
