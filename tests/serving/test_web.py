"""The web studio in headless Chromium (Debian's package), driven by Playwright.

Needs the Python package ``playwright`` and a Chromium binary (``apt-get install chromium``;
``.ci/run`` installs it). Screenshots go to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.serving.live_server import live_server, make_listening_test

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need playwright: pip install playwright"
)
CHROMIUM = os.environ.get("FOLEYLDM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium, or set "
        "FOLEYLDM_CHROMIUM)",
        allow_module_level=True,
    )

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def server(tiny_pipe):
    with live_server(tiny_pipe) as (url, app):
        # Slow each step a little so the page's 200 ms polling sees the bar move.
        app.state.jobs.step_hook = lambda job: time.sleep(0.1)
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(server)
    page.wait_for_function(
        "() => document.querySelectorAll('select[name=sampler] option').length > 1"
    )
    yield page
    context.close()
    # A 422 the test asked for is logged by Chromium as a failed resource; nothing else may be.
    assert [e for e in errors if "422" not in e] == []


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def wait_done(card, progress_seen: list[float] | None = None) -> None:
    deadline = time.monotonic() + 60
    while card.get_attribute("data-state") not in ("done", "failed", "cancelled"):
        if progress_seen is not None:
            progress_seen.append(card.locator("progress").evaluate("p => p.value"))
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.02)
    assert card.get_attribute("data-state") == "done", card.locator(".status").inner_text()


def check_clip(page, card, seconds: float) -> None:
    """The card's audio element is loaded, plays and lasts ``seconds``; its image shows."""
    audio = card.locator("audio").first
    audio.evaluate("a => new Promise(ok => a.readyState >= 2 ? ok() : a.oncanplay = ok)")
    assert audio.evaluate("a => a.duration") == pytest.approx(seconds, abs=0.01)
    assert audio.evaluate("a => a.play().then(() => !a.paused)") is True
    audio.evaluate("a => a.pause()")
    img = card.locator("img.spectrogram").first
    img.evaluate("i => i.decode()")
    assert img.evaluate("i => i.naturalWidth") > 100
    assert card.locator("a.wav").first.get_attribute("download").endswith(".wav")


def test_generate_then_inpaint_in_the_studio(page):
    # 1. generate: type a prompt and the knobs, press the button, watch the bar move
    form = page.locator("#form-generate")
    form.locator("[name=prompt]").fill("a dog barking")
    form.locator("[name=audio_length_in_s]").fill("0.5")
    form.locator("[name=num_inference_steps]").fill("8")
    form.locator("[name=seed]").fill("3")
    form.locator("[name=sampler]").select_option("dpmpp-2m")
    form.locator("button.go").click()
    card = page.locator("#results .job").first
    seen: list[float] = []
    wait_done(card, seen)
    assert any(0 < v < 1 for v in seen), f"the progress bar never moved: {sorted(set(seen))}"
    assert card.locator("progress").evaluate("p => p.value") == 1
    check_clip(page, card, 0.5)
    params = card.locator(".params").text_content() or ""
    assert '"seed": 3' in params and '"sampler": "dpmpp-2m"' in params
    screenshot(page, "studio-generate.png")

    # 2. inpaint that result: its edit button loads it as the input and opens the tab
    card.locator("[data-edit=inpaint]").first.click()
    assert page.locator("[role=tab][data-tab=inpaint]").get_attribute("aria-selected") == "true"
    page.wait_for_function(
        "() => document.querySelector('#input-name').textContent.includes('0.50 s')"
    )
    inpaint = page.locator("#form-inpaint")
    inpaint.locator("[name=num_inference_steps]").fill("4")
    # a range outside the clip: the server's message is shown, no job is made
    page.locator("#ranges").fill("0.1-9")
    inpaint.locator("button.go").click()
    page.wait_for_function("() => document.querySelector('#form-inpaint .error').textContent")
    assert "outside the 0.500 s clip" in inpaint.locator(".error").inner_text()
    assert page.locator("#results .job").count() == 1
    # drag across the waveform from 20 % to 50 % of its width to select a range
    page.locator("#clear-ranges").click()
    box = page.locator("#waveform").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.2 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.5 * box["width"], y, steps=5)
    page.mouse.up()
    (start, end) = (float(t) for t in page.locator("#ranges").input_value().split("-"))
    assert start == pytest.approx(0.1, abs=0.01) and end == pytest.approx(0.25, abs=0.01)
    screenshot(page, "studio-inpaint-selection.png")
    inpaint.locator("button.go").click()
    page.wait_for_function("() => document.querySelectorAll('#results .job').length == 2")
    edited = page.locator("#results .job").first
    assert edited.locator(".kind").inner_text() == "inpainting"
    wait_done(edited)
    check_clip(page, edited, 0.5)
    assert "regenerated" in edited.locator(".meta").inner_text()
    screenshot(page, "studio-inpaint.png")

    # 3. history: after a reload both results come back from localStorage and the server
    page.reload()
    cards = page.locator("#results .job")
    page.wait_for_function(
        "() => document.querySelectorAll('#results .job audio[src]').length == 2"
    )
    assert [c.locator(".kind").inner_text() for c in cards.all()] == ["inpainting", "generate"]
    check_clip(page, cards.nth(1), 0.5)


def test_cancel_from_the_page(page, server):
    form = page.locator("#form-generate")
    form.locator("[name=prompt]").fill("a long rumble")
    form.locator("[name=num_inference_steps]").fill("200")
    form.locator("button.go").click()
    card = page.locator("#results .job").first
    page.wait_for_function(
        "() => document.querySelector('#results .job')?.dataset.state == 'running'"
    )
    card.locator("button.cancel").click()
    deadline = time.monotonic() + 30
    while card.get_attribute("data-state") != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert card.locator("button.cancel").is_hidden()


def test_listening_test_two_items_and_resume(browser, tiny_pipe, tmp_path):
    from foleyldm.evaluation.listening import ListeningTest

    path = make_listening_test(tmp_path)
    with live_server(tiny_pipe, listening_test=str(path)) as (url, _app):
        context = browser.new_context(viewport={"width": 900, "height": 800})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{url}/listen")
        page.locator("#rater").fill("ann")
        page.locator("#start button.go").click()
        given = []
        for item, (ovl, rel) in enumerate([(80, 30), (15, 95)], start=1):
            page.wait_for_function(
                f"() => document.querySelector('#position').textContent == 'Item {item} of 4'"
            )
            audio = page.locator("#stimulus")
            audio.evaluate("a => new Promise(ok => a.readyState >= 2 ? ok() : a.oncanplay = ok)")
            assert audio.evaluate("a => a.duration") == pytest.approx(0.2, abs=0.01)
            assert audio.evaluate("a => a.play().then(() => !a.paused)") is True
            page.locator("#ovl").fill(str(ovl))
            page.locator("#rel").fill(str(rel))
            assert page.locator("#ovl-value").inner_text() == str(ovl)
            given.append((audio.get_attribute("data-stimulus"), ovl, rel))
            if item == 2:
                screenshot(page, "listening-test.png")
            page.locator("#trial button.go").click()
        # resumable: a fresh visit (same browser storage) continues at item 3
        page.wait_for_function(
            "() => document.querySelector('#position').textContent == 'Item 3 of 4'"
        )
        page.reload()
        page.wait_for_function(
            "() => document.querySelector('#position').textContent == 'Item 3 of 4'"
        )
        assert page.locator("#prompt").inner_text().startswith("prompt number")
        context.close()
    with ListeningTest(path) as t:
        stored = sorted((r["stimulus_id"], r["ovl"], r["rel"]) for r in t.ratings())
        assert [r["rater"] for r in t.ratings()] == ["ann", "ann"]
    assert stored == sorted(given)
