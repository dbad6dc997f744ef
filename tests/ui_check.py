"""The screenshot check of the Prefect UI and the HTML report (docs/ui-check.md).

Starts ``prefect server start`` (with its UI) and a moto S3 server on loopback, runs a small
pipeline on a local store and on an S3 store, then opens each flow run's Artifacts tab in
headless Chromium, in the grid and in the rows view, and saves full-height screenshots;
then renders ``groves report --html`` of the local run and screenshots it. It records what
the browser saw (each card's first line, each image's alt text, source and decoded width)
in ``facts.json``.

    python -m tests.ui_check --out ui-screenshots      # needs chromium (apt-get install chromium)

`tests/ui/test_browser.py` runs the same check and asserts on the facts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.browser import Browser

STOCKS = ("RELIANCE", "TCS")
SMALL = {
    "grid": {"max_features": [5, 9], "min_samples_split": [5, 25]},
    "groves": 2,
    "trees": 5,
    "final_groves": 3,
    "final_trees": 5,
    "workers": 2,
}
IMAGES_LOADED = "Array.from(document.images).every(i => i.complete)"
CARDS = """Array.from(document.querySelectorAll('.artifact-card')).map(card => ({
  text: card.querySelector('.artifact-card__description')?.innerText ?? '',
  images: Array.from(card.querySelectorAll('img')).map(i => ({
    alt: i.alt, src: i.src.slice(0, 60), width: i.naturalWidth}))}))"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """``prefect server start`` (API and UI) on a free port; yields the API URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home), PREFECT_API_URL=url, PREFECT_SERVER_ANALYTICS_ENABLED="false"
    )
    prefect = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    with (home / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [*prefect, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if json.loads(reply.read()) is True:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"prefect server did not start; see {home / 'server.log'}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def moto_s3() -> Iterator[str]:
    """A moto S3 server on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def run_pipeline(api_url: str, store: str, run_id: str) -> tuple[str, dict[str, Any]]:
    """Run the small pipeline against the server; its flow run id and summary."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.pipeline import forecast_pipeline
    from groves.config import RunConfig

    config = RunConfig.model_validate({**SMALL, "store": store, "run_id": run_id})
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        state = forecast_pipeline(config, return_state=True)
        return str(state.state_details.flow_run_id), state.result()


def artifacts_tab(browser: Browser, ui_url: str, flow_run_id: str, view: str, out: Path) -> Any:
    """Screenshot a flow run's Artifacts tab in the ``grid`` or ``rows`` view; its cards."""
    browser.resize(1400, 900)
    browser.open(f"{ui_url}/runs/flow-run/{flow_run_id}")
    browser.wait_for("!!document.getElementById('artifacts')")
    browser.evaluate("document.getElementById('artifacts').click()")
    browser.wait_for("document.querySelectorAll('.artifact-card').length > 0")
    buttons = "document.querySelectorAll('.flow-run-artifacts__view-mode-button-group button')"
    browser.evaluate(f"{buttons}[{0 if view == 'grid' else 1}].click()")
    if view == "rows":
        browser.wait_for("document.querySelectorAll('.artifact-card--condensed').length > 0")
    for _ in range(3):  # the list renders what the viewport shows: grow it to the content
        browser.resize(1400, min(browser.content_height(), 16000))
        browser.wait_for(IMAGES_LOADED)
    browser.screenshot(out)
    return browser.evaluate(CARDS)


def html_report(browser: Browser, store: str, summary: dict[str, Any], folder: Path) -> Any:
    """Write the run's HTML report, open it from disk, screenshot it; its images."""
    from groves.reporting.html import render_html
    from groves.reporting.stored import load_report, load_summary
    from lambda_functions.storage import open_storage

    page = folder / "report.html"
    stored = load_summary(store, summary["run_id"])
    page.write_text(render_html(open_storage(store), stored, load_report(open_storage(store),
                    summary["run_id"])), encoding="utf-8")  # fmt: skip
    browser.resize(1300, 900)
    browser.open(page.as_uri())
    browser.wait_for(IMAGES_LOADED)
    browser.resize(1300, browser.content_height())
    browser.screenshot(folder / "html-report.png")
    return browser.evaluate("Array.from(document.images).map(i => [i.alt, i.naturalWidth])")


def run_check(out: Path) -> dict[str, Any]:
    """Everything in the module doc; returns (and saves) the facts."""
    from groves.demo_data import generate_dataset
    from groves.reporting.summary import summary_headline

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="groves-ui-check-"))
    raw = work / "local" / "raw"
    generate_dataset(raw, list(STOCKS), trading_days=4, seed=0)
    facts: dict[str, Any] = {}
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL_S3", "PREFECT_LOGGING_LEVEL")}
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        with prefect_server(work) as api_url, moto_s3() as s3_url, Browser() as browser:
            import boto3

            os.environ["AWS_ENDPOINT_URL_S3"] = s3_url
            client = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
            client.create_bucket(Bucket="groves-ui")
            for path in sorted(raw.glob("*.csv")):
                client.upload_file(str(path), "groves-ui", f"data/raw/{path.name}")
            ui_url = api_url.removesuffix("/api")
            for kind, store in (("local", str(work / "local")), ("s3", "s3://groves-ui/data")):
                flow_run_id, summary = run_pipeline(api_url, store, f"ui-{kind}")
                facts[kind] = {
                    "flow_run_id": flow_run_id,
                    "headline": summary_headline(summary),
                    "plots": [p["title"] for p in summary["plots"]],
                    "s3_url": s3_url,
                }
                for view in ("grid", "rows"):
                    png = out / f"artifacts-{kind}-{view}.png"
                    facts[kind][view] = artifacts_tab(browser, ui_url, flow_run_id, view, png)
                if kind == "local":
                    facts["html"] = html_report(browser, store, summary, out)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    (out / "facts.json").write_text(json.dumps(facts, indent=1))
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("ui-screenshots"))
    facts = run_check(parser.parse_args().out)
    for kind in ("local", "s3"):
        for view in ("grid", "rows"):
            cards = facts[kind][view]
            images = [i for c in cards for i in c["images"]]
            loaded = sum(1 for i in images if i["width"] > 0)
            print(f"{kind} {view}: {len(cards)} cards, {loaded} of {len(images)} images loaded")
    print(f"html: {sum(1 for _, w in facts['html'] if w > 0)} images loaded")


if __name__ == "__main__":
    main()
