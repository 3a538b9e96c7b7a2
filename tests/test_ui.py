"""zoo ui in a real browser: a real ``zoo ui`` process, driven through Playwright in Debian's
headless Chromium (``/usr/bin/chromium``; .ci/run installs it, and sets ZOO_REQUIRE_BROWSER so
that a missing browser fails there instead of skipping). The pictures in docs/ui.md are these
tests' screenshots: ``ZOO_UI_SCREENSHOTS=docs python -m pytest tests/test_ui.py -n 0``."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

import zoo
from conftest import EveryStatus, make_idx, one_line_error, run_cli, run_process

CHROMIUM = Path("/usr/bin/chromium")
DIGITS = sorted((Path(__file__).parent / "digits").glob("*.png"))
URL_LINE = re.compile(r" at (http://\S+/)$")

if not CHROMIUM.exists():
    if os.environ.get("ZOO_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
    pytest.skip(f"needs Debian's chromium ({CHROMIUM}): apt-get install chromium",
                allow_module_level=True)  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # as root in a sandbox, and no calls home on a closed network
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert not errors, errors  # no script error on any page a test opened


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: docs/ when ZOO_UI_SCREENSHOTS says so, else the test's folder."""
    folder = Path(os.environ.get("ZOO_UI_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class UI:
    """A ``zoo ui FOLDER --port 0`` process, as a user starts it, and its URL."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zoo", "ui", str(folder), "--port", "0", *args],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started = time.monotonic()
        line = self.proc.stdout.readline()
        self.start_seconds = time.monotonic() - started  # printed once the port is open
        found = URL_LINE.search(line.rstrip())
        if not found:
            self.proc.kill()
            raise AssertionError(f"zoo ui printed {line!r}:\n{self.proc.stderr.read()}")
        self.url = found.group(1)

    def api(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path.lstrip("/"), timeout=60, **kwargs)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.fixture
def ui(tmp_path):
    started: list[UI] = []

    def start(folder: Path = tmp_path, *args: str) -> UI:
        started.append(UI(folder, *args))
        return started[-1]

    yield start
    for process in started:
        err = process.stop()
        assert "Traceback" not in err, err


def train(folder: Path, out: str, mnist_file: Path, *args: str) -> Path:
    run_cli("run", "logistic", "--set", f"dataset.path={mnist_file}", "--out", out,
            "--no-progress", *args, cwd=folder)  # fmt: skip
    return folder / out


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder`` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def points(page, chart: str) -> list[int]:
    """The x values (epochs) of each curve of the chart named ``chart``, as Plotly holds them."""
    return page.evaluate(
        "(name) => document.querySelector(`[data-chart='${name}']`).data.map(t => t.x.length)",
        chart,
    )


# --- Catalog ---------------------------------------------------------------------------------


def test_the_catalog_lists_every_shipped_weights_entry_with_its_command(ui, page, shots):
    server = ui()
    page.goto(server.url + "#/catalog")
    page.wait_for_selector("#results tbody tr")
    names = page.eval_on_selector_all("#results tbody tr", "rows => rows.map(r => r.dataset.name)")
    assert sorted(names) == sorted(zoo.list_weights()) and len(names) >= 10
    by_name = {r.name: r for r in zoo.results()}
    for name in names:
        row = page.locator(f"#results tr[data-name='{name}']")
        assert f"zoo reproduce {name}" in row.inner_text()
        assert f"{100 * by_name[name].test_acc:.2f}%" in row.inner_text()
    models = page.eval_on_selector_all("#models tbody tr", "rows => rows.map(r => r.dataset.name)")
    assert models == zoo.list_models()
    assert "width: int = 16" in page.locator("#models tr[data-name='bn_cnn']").inner_text()
    datasets = page.eval_on_selector_all("#datasets tbody tr", "r => r.map(x => x.dataset.name)")
    assert datasets == zoo.list_datasets()
    page.screenshot(path=shots / "ui-catalog.png")
    # sorted by a column as zoo list weights --sort sorts it
    page.click("th[data-sort='test_acc']")
    page.wait_for_selector("th[data-sort='test_acc'].sorted")
    names = page.eval_on_selector_all("#results tbody tr", "rows => rows.map(r => r.dataset.name)")
    assert names == [r.name for r in zoo.results(sort="test_acc")]
    # a row opens its card
    page.click("#results tr[data-name='cnn.mnist']")
    page.wait_for_selector("#card-title")
    assert page.inner_text("#card-title") == zoo.get_weights("cnn.mnist").summary()
    assert "zoo reproduce cnn.mnist" in page.inner_text("main")


# --- Runs ------------------------------------------------------------------------------------


def test_a_run_page_shows_one_point_per_epoch_its_config_and_confusion_matrix(
    ui, page, tmp_path, mnist_file, shots
):
    train(tmp_path, "runs/first", mnist_file, "--epochs", "5")
    train(tmp_path, "runs/confused", mnist_file, "--epochs", "2", "--set",
          "metrics=[confusion_matrix]")  # fmt: skip
    broken = tmp_path / "runs" / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("name: [unclosed\n")
    (broken / "model.json").write_text("{}")
    before = snapshot(tmp_path / "runs")
    server = ui()
    page.goto(server.url + "#/runs")
    page.wait_for_selector("#runs tr[data-path='runs/first']")
    assert "broken" in page.inner_text("#runs tr[data-path='runs/broken']")  # and the rest works
    assert "5/5" in page.inner_text("#runs tr[data-path='runs/first']")
    page.screenshot(path=shots / "ui-runs.png")
    page.click("#runs tr[data-path='runs/first'] td:nth-child(2)")
    page.wait_for_selector("[data-chart='accuracy'] .main-svg")
    assert points(page, "loss") == [5, 5]  # train_loss and val_loss, one point per epoch
    assert points(page, "accuracy") == [5] and points(page, "learning rate") == [5]
    assert "name: logistic" in page.inner_text("#run-config")
    page.mouse.move(0, 0)  # no chart's toolbar in the picture
    page.screenshot(path=shots / "ui-run.png")
    page.goto(server.url + "#/run?path=runs/confused")
    page.wait_for_selector("[data-confusion] .main-svg")
    right, wrong = page.evaluate("document.querySelector('[data-confusion]').data.map(t => t.z)")
    pairs = [zip(*rows, strict=True) for rows in zip(right, wrong, strict=True)]
    shown = [[a if a is not None else b for a, b in row] for row in pairs]
    assert shown == zoo.confusion_matrices(tmp_path / "runs" / "confused")["epoch 2"]["matrix"]
    # the colours are the mistakes': the diagonal (the right answers) is not on their scale
    assert all(row[i] is None for i, row in enumerate(wrong))
    assert all(v is None for i, row in enumerate(right) for j, v in enumerate(row) if i != j)
    # two runs overlaid
    page.goto(server.url + "#/runs")
    page.check("#runs tr[data-path='runs/first'] input.pick")
    page.check("#runs tr[data-path='runs/confused'] input.pick")
    page.click("#compare")
    page.wait_for_selector("[data-chart='val_acc'] .main-svg")
    assert points(page, "val_acc") == [5, 2]
    page.mouse.move(0, 0)
    page.screenshot(path=shots / "ui-compare.png")
    page.goto(server.url + "#/run?path=runs/broken")
    page.wait_for_selector("#run-status .bad")
    assert snapshot(tmp_path / "runs") == before  # nothing written into a run directory


def test_a_run_in_training_adds_its_epochs_to_the_open_page(ui, page, tmp_path, mnist_file, shots):
    trainer = subprocess.Popen(
        [sys.executable, "-m", "zoo", "run", "logistic", "--set", f"dataset.path={mnist_file}",
         "--epochs", "1000", "--out", "runs/live", "--no-progress"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        metrics = tmp_path / "runs" / "live" / "metrics.jsonl"
        deadline = time.monotonic() + 120
        while not (metrics.exists() and metrics.read_text().count("\n") >= 1):
            assert time.monotonic() < deadline and trainer.poll() is None, trainer.stderr.read()
            time.sleep(0.05)
        server = ui()
        page.goto(server.url + "#/run?path=runs/live")
        page.wait_for_selector("[data-chart='loss'] .main-svg")
        page.evaluate("window.sameDocument = true")
        first = points(page, "accuracy")[0]
        page.wait_for_function(
            f"document.querySelector(\"[data-chart='accuracy']\").data[0].x.length > {first + 1}"
        )
        assert page.evaluate("window.sameDocument") is True  # updated in place, never reloaded
        assert "training" in page.inner_text("#run-status")
        # the list of runs follows too: a run started after it was opened, and the epochs
        page.goto(server.url + "#/runs")
        cell = "#runs tr[data-path='runs/live'] td:nth-child(5)"
        page.wait_for_selector(cell)
        page.evaluate("window.sameDocument = true")
        shown = page.inner_text(cell)
        page.wait_for_function(f"document.querySelector(\"{cell}\").innerText != '{shown}'")
        train(tmp_path, "runs/later", mnist_file, "--epochs", "1")
        page.wait_for_selector("#runs tr[data-path='runs/later']")
        assert page.evaluate("window.sameDocument") is True
    finally:
        trainer.send_signal(signal.SIGINT)
        trainer.communicate(timeout=60)


# --- Try -------------------------------------------------------------------------------------


def test_drawing_on_the_canvas_shows_the_top_classes(ui, page, shots):
    server = ui()
    page.goto(server.url + "#/try?kind=weights&source=cnn.mnist")
    pad = page.locator("#pad")
    pad.wait_for()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    for step in range(1, 21):  # a one, top to bottom
        page.mouse.move(box["x"] + 140, box["y"] + 40 + 10 * step)
    page.mouse.up()
    page.wait_for_selector("#predictions:not([data-busy]) li")  # the answer to the whole stroke
    shown = page.eval_on_selector_all("#predictions li", "items => items.map(i => i.innerText)")
    assert len(shown) == 5 and all(line.endswith("%") for line in shown)
    assert page.get_attribute("#predictions li:first-child", "data-class") == "1"
    page.screenshot(path=shots / "ui-try.png")
    page.click("#clear")
    assert page.locator("#predictions li").count() == 0


def test_uploaded_digits_get_the_classes_zoo_predict_gives(ui, page, tmp_path):
    assert len(DIGITS) == 10
    expected = {}
    for line in run_cli("predict", "cnn.mnist", *DIGITS, cwd=tmp_path).stdout.splitlines():
        path, classes = line.rsplit(": ", 1)
        expected[Path(path).name] = classes.split()[0]
    assert expected["mnist-test-0018-label-3.png"] == "8"  # one it gets wrong: the same here
    server = ui()
    page.goto(server.url + "#/try?kind=weights&source=cnn.mnist")
    page.wait_for_selector("#upload")
    page.set_input_files("#upload", [str(p) for p in DIGITS])
    page.wait_for_function("document.querySelectorAll('#uploads li[data-predicted]').length == 10")
    got = page.eval_on_selector_all(
        "#uploads li", "items => items.map(i => [i.dataset.file, i.dataset.predicted])"
    )
    assert dict(got) == expected


def test_the_validation_grid_puts_the_mistakes_first_and_writes_nothing(
    ui, page, tmp_path, mnist_file, shots
):
    # one epoch at a small rate: a model that still makes mistakes
    run = train(tmp_path, "runs/small", mnist_file, "--epochs", "1", "--set", "optimizer.lr=0.02")
    before = snapshot(run)
    server = ui()
    page.goto(server.url + "#/try?kind=run&source=runs/small")
    page.wait_for_selector("#grid")
    page.click("#grid")
    page.wait_for_selector("#grid-rows tbody tr")
    rows = page.eval_on_selector_all(
        "#grid-rows tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
    )
    assert len(rows) == 32
    losses = [float(r[5]) for r in rows]
    assert losses == sorted(losses, reverse=True)  # the highest loss first
    wrong = [r[2] != r[3] for r in rows]
    assert wrong[0] and sum(wrong) >= 5  # the worst answer is a mistake
    marked = page.eval_on_selector_all("#grid-rows tbody tr", "rows => rows.map(r => r.className)")
    assert [m == "wrong" for m in marked] == wrong
    expected = zoo.evaluate(run, which="best", top_losses=32, out=tmp_path / "elsewhere")
    assert [int(r[1]) for r in rows] == [r["index"] for r in expected["top_losses"]]
    assert page.locator("#grid-picture img").count() == 1
    page.screenshot(path=shots / "ui-mistakes.png", full_page=True)
    assert snapshot(run) == before


# --- safe by default -------------------------------------------------------------------------


@pytest.mark.hostile
def test_paths_out_of_the_folder_are_refused(ui, page, tmp_path, mnist_file):
    served = tmp_path / "served"
    served.mkdir()
    outside = train(tmp_path, "outside", mnist_file, "--epochs", "1")
    (served / "link").symlink_to(outside, target_is_directory=True)
    inside_run = train(served, "runs/mine", mnist_file, "--epochs", "1")
    server = ui(served)
    listed = [r["path"] for r in server.api("/api/runs").json()["runs"]]
    assert listed == ["runs/mine"]  # the link out is not listed
    for path in ("../outside", "runs/../../outside", "link", str(outside), str(inside_run)):
        answer = server.api("/api/run", params={"path": path})
        assert answer.status_code == 403 and "error" in answer.json(), (path, answer.text)
    answer = requests.post(
        server.url + "api/predict", params={"kind": "run", "source": "../outside"},
        data=DIGITS[0].read_bytes(), headers={"X-Zoo-UI": "1"}, timeout=60,
    )  # fmt: skip
    assert answer.status_code == 403
    page.goto(server.url + "#/run?path=../outside")
    page.wait_for_selector("#error:not([hidden])")
    assert "inside the folder" in page.inner_text("#error")


@pytest.mark.hostile
def test_requests_from_elsewhere_and_large_or_bad_uploads_are_refused(ui, tmp_path):
    server = ui()
    assert server.api("/api/runs", headers={"Host": "evil.example"}).status_code == 400
    predict = server.url + "api/predict?kind=weights&source=cnn.mnist"
    digit = DIGITS[0].read_bytes()
    assert requests.post(predict, data=digit, timeout=60).status_code == 403  # not the page's
    ok = requests.post(predict, data=digit, headers={"X-Zoo-UI": "1"}, timeout=60)
    assert ok.status_code == 200 and ok.json()["predictions"][0][0] == "7"
    big = requests.post(predict, data=b"\0" * (17 << 20), headers={"X-Zoo-UI": "1"}, timeout=60)
    assert big.status_code == 413 and "larger than" in big.json()["error"]
    bad = requests.post(predict, data=b"<svg/>", headers={"X-Zoo-UI": "1"}, timeout=60)
    assert bad.status_code == 422 and "cannot read image" in bad.json()["error"]
    unknown = requests.post(
        server.url + "api/predict?kind=weights&source=../x", data=digit,
        headers={"X-Zoo-UI": "1"}, timeout=60,
    )  # fmt: skip
    assert unknown.status_code == 404


def test_host_other_than_this_machine_warns(ui, tmp_path):
    server = ui(tmp_path, "--host", "0.0.0.0")
    assert server.api("/api/runs").status_code == 200
    err = server.stop()
    assert "warning: listening on 0.0.0.0, which other machines can reach" in err


@pytest.mark.hostile
def test_a_busy_port_and_a_missing_extra_are_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_process("ui", "--port", port, cwd=tmp_path)
    one_line_error(result, f"cannot listen on 127.0.0.1:{port}", "choose another with --port")
    hide = "import sys; sys.modules['uvicorn'] = None; from zoo.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", hide, "ui"], cwd=tmp_path, capture_output=True, text=True
    )
    one_line_error(result, "zoo ui needs its extra", "pip install 'torch-zoo[ui]'")


def test_the_app_starts_fast_and_serves_plotly_offline(ui, tmp_path):
    server = ui()
    print(f"zoo ui printed its URL {server.start_seconds:.2f} s after it started")
    page = server.api("/")
    assert page.status_code == 200 and "/vendor/plotly.min.js" in page.text
    assert "http" not in re.sub(r"<!--.*?-->", "", page.text, flags=re.S)  # no CDN
    script = server.api("/vendor/plotly.min.js")
    assert script.status_code == 200 and len(script.content) > 1_000_000
    for static in ("app.js", "style.css"):
        body = server.api(f"/static/{static}").text
        assert "https://" not in body and "http://" not in body, static
    assert json.loads(server.api("/api/results").text)[0]["reproduce"].startswith("zoo reproduce")


@pytest.mark.hostile
def test_names_from_a_shared_folder_are_shown_as_text_never_run(ui, page, tmp_path, mnist_file):
    run = train(tmp_path, "runs/plain", mnist_file, "--epochs", "2", "--set",
                "metrics=[confusion_matrix]")  # fmt: skip
    info = json.loads((run / "model.json").read_text())
    info["classes"] = [f"<img src=x onerror=window.pwned={i}>" for i in range(9)]
    info["classes"].append('<a href="javascript:window.pwned=10">ten</a>')
    (run / "model.json").write_text(json.dumps(info))
    hostile = run.parent / "<img src=x onerror=window.pwned=99>"
    run.rename(hostile)
    server = ui()
    page.goto(server.url + "#/runs")
    page.wait_for_selector("#runs tbody tr")
    assert page.inner_text("#runs tbody tr td:nth-child(2)") == f"runs/{hostile.name}"
    page.click("#runs tbody tr td:nth-child(2)")
    page.wait_for_selector("[data-confusion] .main-svg")
    page.hover("[data-confusion] .main-svg")
    assert hostile.name in page.inner_text("#run-title")
    assert "ten</a>" in page.inner_text("[data-confusion]")  # the class name, as text
    assert page.locator("[data-confusion] a").count() == 0  # no link made of it
    page.goto(server.url + f"#/compare?run=runs/{hostile.name}")
    page.wait_for_selector("[data-chart='val_acc'] .main-svg")
    assert page.evaluate("window.pwned") is None


def test_the_grid_of_registered_weights_reads_the_data_where_the_page_says(
    ui, page, idx_dir, tmp_path
):
    server = ui()
    page.goto(server.url + "#/try?kind=weights&source=cnn.mnist")
    page.wait_for_selector("#grid")
    page.fill("#data-path", str(idx_dir / "missing"))
    page.click("#grid")
    page.wait_for_selector("#grid-out .error")
    assert "does not exist" in page.inner_text("#grid-out")  # zoo's own line, and nothing else
    page.fill("#data-path", str(idx_dir))
    page.click("#grid")
    page.wait_for_selector("#grid-rows tbody tr")
    expected = zoo.evaluate(
        "cnn.mnist", overrides={"dataset.path": str(idx_dir)}, top_losses=32, out=tmp_path
    )
    assert page.inner_text("#grid-summary").startswith(
        f"weights 'cnn.mnist': validation accuracy {100 * expected['acc']:.2f}% on "
        f"{expected['samples']} samples"
    )
    shown = page.eval_on_selector_all(
        "#grid-rows tbody tr td:nth-child(2)", "c => c.map(x => x.innerText)"
    )
    assert [int(i) for i in shown] == [r["index"] for r in expected["top_losses"]]


# --- trust, third round: what the page reads, computes and shows -------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """A process's peak memory (MB) and its threads, as Linux counts them."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {"peak_mb": int(fields["VmHWM"].split()[0]) // 1024, "threads": int(fields["Threads"])}


@pytest.mark.hostile
def test_the_host_check_holds_for_every_address_zoo_ui_listens_on(ui, tmp_path):
    loopback = ui(tmp_path, "--host", "127.0.0.2")
    assert loopback.url.startswith("http://127.0.0.2:")
    assert loopback.api("/api/runs").status_code == 200  # Host: 127.0.0.2:PORT
    assert loopback.api("/api/runs", headers={"Host": "attacker.example"}).status_code == 400
    rebound = requests.post(
        loopback.url + "api/predict?kind=weights&source=cnn.mnist", data=DIGITS[0].read_bytes(),
        headers={"Host": "attacker.example", "X-Zoo-UI": "1"}, timeout=60,
    )  # fmt: skip
    assert rebound.status_code == 400  # DNS rebinding: the page elsewhere cannot post
    assert "warning" not in loopback.stop()  # 127.0.0.2 is this machine only
    anywhere = ui(tmp_path, "--host", "0.0.0.0", "--allow-host", "zoo.lan")
    assert anywhere.api("/api/runs", headers={"Host": "zoo.lan:80"}).status_code == 200
    assert anywhere.api("/api/runs", headers={"Host": "localhost"}).status_code == 200
    assert anywhere.api("/api/runs", headers={"Host": "attacker.example"}).status_code == 400
    err = anywhere.stop()
    assert "which other machines can reach" in err and "zoo.lan" in err
    one_line_error(run_process("ui", "--allow-host", "a b/c", cwd=tmp_path), "--allow-host")


@pytest.mark.hostile
def test_the_page_escapes_text_as_the_terminal_does(ui, page, tmp_path, mnist_file):
    from zoo.text import printable

    run = train(tmp_path, "runs/plain", mnist_file, "--epochs", "1")
    for name in ("x\u202egnp.exe", "a\\b", "t\x1b]0;title\x07"):
        shutil.copytree(run, run.parent / name)
    undecodable = os.fsencode(run.parent) + b"/not-utf8-\xff"
    shutil.copytree(os.fsencode(run), undecodable)
    server = ui()
    listed = server.api("/api/runs")
    assert listed.status_code == 200, listed.text  # was 500 for the whole folder
    rows = {r["path"]: r for r in listed.json()["runs"]}
    assert "its folder name is not UTF-8" in rows["runs/not-utf8-\\udcff"]["problem"]
    page.goto(server.url + "#/runs")
    page.wait_for_selector("#runs tbody tr")
    cells = page.eval_on_selector_all(
        "#runs tbody tr td:nth-child(2)", "c => c.map(x => x.innerText)"
    )
    assert "runs/x\\u202egnp.exe" in cells and "runs/t\\x1b]0;title\\x07" in cells
    assert not any("\u202e" in c or "\x1b" in c for c in cells)
    page.click("#runs tr[data-path='runs/a\\\\b'] td:nth-child(2)")  # listed, so it opens
    page.wait_for_selector("[data-chart='loss'] .main-svg")
    assert "runs/a\\b" in page.inner_text("#run-title")
    hostile = ["a\x1b[2Jb", "x\u202egnp.exe", "\u2066iso\u2069", "nb\xa0sp", "z\u200bw", "t\tab",
               "line\nbreak", "\U000e0041tag", "plain text, with: punctuation!"]  # fmt: skip
    shown = page.evaluate("(texts) => texts.map(visible)", hostile)
    assert shown == [printable(t, limit=1000) for t in hostile]  # one rule, on both sides


@pytest.mark.hostile
def test_bad_bodies_and_uploads_are_one_line_that_names_the_upload(ui, page, tmp_path):
    server = ui()
    nested = "[" * 30_000 + "]" * 30_000  # a 60 KB body that exhausts a recursive parser
    answer = requests.post(
        server.url + "api/mistakes", data=nested, headers={"X-Zoo-UI": "1"}, timeout=60
    )
    assert answer.status_code == 400 and answer.json()["error"] == "expected a JSON object"
    (tmp_path / "notes.txt").write_text("not a picture")
    page.goto(server.url + "#/try?kind=weights&source=cnn.mnist")
    page.wait_for_selector("#upload")
    page.set_input_files("#upload", [str(tmp_path / "notes.txt")])
    page.wait_for_selector("#uploads li.error")
    error = page.inner_text("#uploads li.error .top")
    assert "cannot read image notes.txt" in error and "zoo-ui-" not in error, error


@pytest.mark.hostile
def test_a_runs_settings_never_change_the_servers_state(ui, tmp_path, mnist_file):
    run = train(tmp_path, "runs/greedy", mnist_file, "--epochs", "1")
    config = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(config.replace("threads: auto", "threads: 1024"))
    server = ui()
    body = {"kind": "run", "source": "runs/greedy", "count": 8, "data": str(mnist_file)}
    answer = requests.post(
        server.url + "api/mistakes", json=body, headers={"X-Zoo-UI": "1"}, timeout=120
    )
    assert answer.status_code == 200, answer.text
    assert proc_status(server.proc.pid)["threads"] < 200  # 2,049 stayed, for every later grid


@pytest.mark.hostile
def test_uploads_of_huge_pictures_at_once_are_decoded_a_few_at_a_time(ui, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image, ImageDraw

    huge = Image.new("RGBA", (4096, 4096), (0, 0, 0, 0))  # 450 MB each to decode, before
    ImageDraw.Draw(huge).line((1000, 500, 3000, 3500), fill=(255, 255, 255, 255), width=300)
    data = io.BytesIO()
    huge.save(data, format="PNG", optimize=True)
    server = ui()
    url = server.url + "api/predict?kind=weights&source=cnn.mnist&name=huge.png"

    def post(_):
        return requests.post(url, data=data.getvalue(), headers={"X-Zoo-UI": "1"}, timeout=120)

    assert post(0).status_code == 200  # torch imported and the model built: the baseline
    before = proc_status(server.proc.pid)["peak_mb"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    grew = proc_status(server.proc.pid)["peak_mb"] - before
    assert grew < 600, f"8 uploads at once took {grew} MB more"  # 3.5 GB before


@pytest.mark.hostile
def test_a_long_metrics_file_is_read_once_and_its_history_bounded(ui, tmp_path, mnist_file):
    run = train(tmp_path, "runs/long", mnist_file, "--epochs", "1")
    first = json.loads((run / "metrics.jsonl").read_text())
    config = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(config.replace("epochs: 1\n", "epochs: 1000000\n"))
    rows = 200_000
    with open(run / "metrics.jsonl", "w") as f:
        for epoch in range(1, rows + 1):
            f.write(json.dumps(first | {"epoch": epoch, "val_loss": 1 + 1 / epoch}) + "\n")
    server = ui()
    from concurrent.futures import ThreadPoolExecutor

    get = lambda _: server.api("/api/run", params={"path": "runs/long"})  # noqa: E731
    with ThreadPoolExecutor(6) as pool:  # six pages at once: one read, the others wait for it
        answers = list(pool.map(get, range(6)))
    assert all(a.status_code == 200 for a in answers)
    body = answers[0].json()
    assert body["epochs_done"] == rows and body["best"]["epoch"] == rows
    assert len(body["history"]) <= 2000 and body["history"][-1]["epoch"] == rows
    peak = proc_status(server.proc.pid)["peak_mb"]
    with open(run / "metrics.jsonl", "a") as f:  # a new epoch: only it is read
        f.write(json.dumps(first | {"epoch": rows + 1, "val_loss": 0.5}) + "\n")
    again = get(0).json()
    assert again["epochs_done"] == rows + 1 and again["best"]["epoch"] == rows + 1
    assert proc_status(server.proc.pid)["peak_mb"] - peak < 50
    assert peak < 1500, f"{peak} MB"  # a 64 MB file cost 1 GB a request, 3.3 GB for six


# --- the page, tried as a new user would ---------------------------------------------------------


def test_the_try_page_opens_on_the_best_weights_for_a_drawn_digit(ui, page):
    digits = [str(d) for d in range(10)]
    best = next(
        r.name
        for r in zoo.results(sort="test_acc")
        if r.problem is None
        and [str(c) for c in zoo.get_weights(r.name).classes] == digits
        and zoo.get_weights(r.name).input_shape == (1, 28, 28)
    )
    assert best.endswith(".mnist")  # not a clothing model for a digit
    server = ui()
    page.goto(server.url + "#/try")
    page.wait_for_selector("#pad")
    assert page.input_value("#source") == f"weights:{best}"


def test_a_sorted_column_reverses_and_the_table_scrolls_on_a_narrow_screen(ui, browser, tmp_path):
    server = ui()
    context = browser.new_context(viewport={"width": 420, "height": 800})
    page = context.new_page()
    try:
        page.goto(server.url + "#/catalog")
        page.click("th[data-sort='test_acc']")
        page.wait_for_selector("th[data-sort='test_acc'].sorted")
        page.click("th[data-sort='test_acc']")  # again: the other way round
        page.wait_for_selector("th[data-sort='test_acc'].sorted.reversed")
        names = page.eval_on_selector_all("#results tbody tr", "r => r.map(x => x.dataset.name)")
        assert names == [r.name for r in zoo.results(sort="test_acc", reverse=True)]
        box = page.evaluate(
            "() => { const s = document.querySelector('#results').parentElement;"
            " s.scrollLeft = s.scrollWidth;"
            " const last = document.querySelector('#results thead th:last-child')"
            "   .getBoundingClientRect();"
            " return [getComputedStyle(s).overflowX, s.scrollWidth > s.clientWidth, last.right]; }"
        )  # fmt: skip
        assert box[0] == "auto" and box[1] and box[2] <= 420  # every column can be reached
        # a training time reads as zoo list weights prints it (1,162.5 s: 19m 22s in both)
        seconds = zoo.get_weights("bn_cnn.mnist").train_seconds
        printed = run_cli("list", "weights", "bn_cnn.mnist", cwd=tmp_path).stdout
        shown = page.inner_text("#results tr[data-name='bn_cnn.mnist'] td:nth-child(9)")
        over = page.inner_text("#results tr[data-name='bn_cnn.mnist'] td:nth-child(6)")
        assert over == "1 seed" and " 1 seed " in printed  # its card has one seed's numbers
        assert shown == zoo.text.duration(seconds) and f" {shown} " in printed
        page.goto(server.url + "#/weights?name=bn_cnn.mnist")
        page.wait_for_selector("#card")
        assert f"trained in\t{shown}" in page.inner_text("#card")
    finally:
        context.close()


def test_the_charts_read_what_they_show_and_an_epoch_in_progress_is_shown(
    ui, page, tmp_path, mnist_file
):
    train(tmp_path, "runs/one", mnist_file, "--epochs", "1")
    train(tmp_path, "runs/cycle", mnist_file, "--epochs", "2", "--set", "scheduler.name=onecycle")
    server = ui()
    page.goto(server.url + "#/run?path=runs/one")
    page.wait_for_selector("[data-chart='learning rate'] .main-svg")
    layout = "(name) => document.querySelector(`[data-chart='${name}']`).layout.yaxis"
    rate, accuracy = (page.evaluate(layout, name) for name in ("learning rate", "accuracy"))
    assert rate["type"] == "linear"  # a constant rate on a log axis read "5, 2, 0.1, 5"
    assert accuracy["range"][1] <= 1.005  # one epoch's accuracy axis ran to 1.9
    page.goto(server.url + "#/run?path=runs/cycle")
    page.wait_for_selector("[data-chart='learning rate'] .main-svg")
    xs = page.evaluate("document.querySelector(\"[data-chart='learning rate']\").data[0].x")
    assert len(xs) > 2 and any(x != int(x) for x in xs)  # onecycle's rate within each epoch

    slow = tmp_path / "slow"  # an epoch long enough to watch: 30,000 samples one at a time
    slow.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (30_000, 28, 28), dtype=np.uint8)
    labels = np.random.default_rng(1).integers(0, 10, 30_000, dtype=np.uint8)
    files = {
        "train-images-idx3-ubyte": pixels,
        "train-labels-idx1-ubyte": labels,
        "t10k-images-idx3-ubyte": pixels[:10],
        "t10k-labels-idx1-ubyte": labels[:10],
    }
    for name, array in files.items():
        (slow / f"{name}.gz").write_bytes(gzip.compress(make_idx(array), compresslevel=1))
    trainer = subprocess.Popen(
        [sys.executable, "-m", "zoo", "run", "logistic", "--set", f"dataset.path={slow}",
         "--set", "batch_size=1", "--epochs", "3", "--out", "runs/slow", "--no-progress"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "runs" / "slow" / "model.json").exists():
            assert time.monotonic() < deadline and trainer.poll() is None, trainer.stderr.read()
            time.sleep(0.1)
        page.goto(server.url + "#/run?path=runs/slow")
        page.wait_for_selector("#run-progress:not([hidden])", timeout=60_000)
        shown = page.inner_text("#run-progress")
        assert re.fullmatch(
            r"epoch 1 of 3 training: [\d,]+ of 20,000 samples \(\d+%\), train loss [\d.]+, "
            r"[\d,]+ samples/s",
            shown,
        ), shown
    finally:
        trainer.send_signal(signal.SIGINT)
        trainer.communicate(timeout=60)
    assert not (tmp_path / "runs" / "slow" / "progress.json").exists()  # gone with the run


def test_the_page_shows_each_runs_status_as_zoo_runs_prints_it(ui, page, tmp_path):
    every = EveryStatus(tmp_path)
    try:
        server = ui()
        for state in ("live", "killed"):
            if state == "killed":
                every.kill()
            printed = _statuses(tmp_path)
            page.goto(server.url + "#/runs")
            page.wait_for_selector("#runs tr[data-path='runs/complete'] .badge")
            page.wait_for_function(
                "(want) => document.querySelector(\"#runs tr[data-path='runs/training'] .badge\")"
                ".innerText === want",
                arg=printed["runs/training"],
            )
            shown = page.evaluate(
                "() => Object.fromEntries([...document.querySelectorAll('#runs tbody tr')]"
                ".map((tr) => [tr.dataset.path, tr.querySelector('.badge').innerText]))"
            )
            assert (
                shown == printed == {p: s for p, s in every.expected.items() if p != "runs/new"}
            ), state
            for path, status in printed.items():
                page.goto(server.url + f"#/run?path={path}")
                page.wait_for_selector("#run-status .badge")
                assert page.inner_text("#run-status .badge") == status, path
    finally:
        every.close()


def _statuses(folder: Path) -> dict[str, str]:
    """What ``zoo runs --format json`` prints for each run: its status."""
    out = run_cli("runs", "runs", "--format", "json", cwd=folder).stdout
    return {json.loads(line)["dir"]: json.loads(line)["status"] for line in out.splitlines()}


def _folder_of(root: Path, grey: bool) -> Path:
    """Three classes of small pictures: a coloured square per class, or (grey) a bar at a
    place per class."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("blue", "green", "red")):
        (root / name).mkdir(parents=True)
        for i in range(12):
            pixels = (rng.random((20, 20, 3)) * 30).astype(np.uint8)
            if grey:
                pixels[:, 2 + 6 * c : 6 + 6 * c] = 230
                Image.fromarray(pixels[..., 0], "L").save(root / name / f"{i}.png")
            else:
                pixels[4:16, 4:16] = [(40, 60, 220), (40, 200, 60), (220, 40, 40)][c]
                Image.fromarray(pixels, "RGB").save(root / name / f"{i}.jpg", quality=95)
    return root


def test_try_takes_colour_uploads_for_a_folder_run_and_draws_only_for_grey_ones(
    ui, page, tmp_path, shots
):
    from PIL import Image

    for kind in ("rgb", "grey"):
        data = _folder_of(tmp_path / f"{kind}-pictures", grey=kind == "grey")
        overrides = {"dataset.name": "image_folder", "dataset.path": str(data),
                     "dataset.progress": False, "augment": None}  # fmt: skip
        zoo.train("mlp", overrides=overrides, epochs=6, out=tmp_path / kind)
    picture = tmp_path / "a-red-one.png"
    Image.new("RGB", (30, 30), (220, 40, 40)).save(picture)
    ((_, expected),) = zoo.predict(tmp_path / "rgb", [picture], top=3)
    server = ui()
    page.goto(server.url + "#/try?kind=run&source=rgb")
    page.wait_for_selector("#upload")
    assert page.locator("#pad").is_hidden()  # a colour model: no canvas
    assert "reads input 3 x 20 x 20 (colour pictures): drop a picture" in page.inner_text(
        "#shape-note"
    )
    page.set_input_files("#upload", [str(picture)])
    page.wait_for_selector("#uploads li[data-predicted]")
    assert page.get_attribute("#uploads li", "data-predicted") == expected[0][0] == "red"
    assert page.inner_text("#uploads li .top").startswith("red ")  # the folder's class names
    page.click("#grid")  # the validation pictures, in colour, with the folder's class names
    page.wait_for_selector("#grid-summary")
    assert "validation accuracy" in page.inner_text("#grid-summary")
    names = set(
        page.eval_on_selector_all(
            "#grid-rows tbody td:nth-child(3)", "t => t.map(c => c.innerText)"
        )
    )
    assert names <= {"blue", "green", "red"} and names
    page.screenshot(path=shots / "ui-try-folder.png")
    page.goto(server.url + "#/try?kind=run&source=grey")
    pad = page.locator("#pad")
    pad.wait_for()  # a grey model: the canvas
    assert "read at 20 x 20" in page.inner_text("#pad-hint")
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 10)
    page.mouse.down()
    for step in range(1, 27):
        page.mouse.move(box["x"] + 140, box["y"] + 10 + 10 * step)
    page.mouse.up()
    page.wait_for_selector("#predictions:not([data-busy]) li")
    classes = page.eval_on_selector_all("#predictions li", "li => li.map(i => i.dataset.class)")
    assert sorted(classes) == ["blue", "green", "red"]


# --- Studies ---------------------------------------------------------------------------------


def test_a_study_lists_its_trials_and_their_history_and_opens_their_runs(
    ui, page, tmp_path, mnist_file, shots
):
    run_cli("tune", "logistic", "--space", "optimizer.lr=loguniform(0.01,1)", "--set",
            f"dataset.path={mnist_file}", "--trials", "4", "--epochs", "2", "--seed", "3",
            "--out", "runs/studies/lr", cwd=tmp_path)  # fmt: skip
    run_cli("sweep", "logistic", "--set", f"dataset.path={mnist_file}", "--epochs", "1",
            "--set", "optimizer.lr=0.1,0.2", "--out", "runs/sweeps/g", "--no-progress",
            cwd=tmp_path)  # fmt: skip
    elsewhere = tmp_path / "runs" / "studies" / "db"
    elsewhere.mkdir()
    plan = json.loads((tmp_path / "runs/studies/lr/study.json").read_text())
    plan["storage"] = "postgresql://zoo@db.example/never"  # a shared folder naming a database
    (elsewhere / "study.json").write_text(json.dumps(plan))
    before = snapshot(tmp_path / "runs")
    server = ui()
    found = zoo.tune_status(tmp_path / "runs/studies/lr")
    page.goto(server.url + "#/studies")
    page.wait_for_selector("#studies tr[data-path='runs/studies/lr']")
    row = page.inner_text("#studies tr[data-path='runs/studies/lr']")
    assert "search" in row and "val_loss (min)" in row and f"{found['best']['value']:.4f}" in row
    assert "sweep" in page.inner_text("#studies tr[data-path='runs/sweeps/g']")
    db = page.inner_text("#studies tr[data-path='runs/studies/db']")
    assert "its trials are in a database (postgresql://zoo@db.example/never)" in db
    page.click("#studies tr[data-path='runs/studies/lr']")
    page.wait_for_selector("#study-history .main-svg")
    assert page.locator("#trials tbody tr").count() == len(found["trials"])
    complete = [t for t in found["trials"] if t["state"] == "complete"]
    values = page.evaluate("() => document.querySelector('#study-history').data[0].y")
    assert values == pytest.approx([t["value"] for t in complete])
    best = page.evaluate("() => document.querySelector('#study-history').data[1].y")
    assert best[-1] == pytest.approx(found["best"]["value"])
    assert best == sorted(best, reverse=True)  # the best so far never gets worse
    page.mouse.move(0, 0)
    page.screenshot(path=shots / "ui-study.png")
    page.click(f"#trials tr[data-trial='{found['best']['number']}']")
    page.wait_for_selector("#run-title")
    assert f"runs/studies/lr/{found['best']['run_dir']}" in page.inner_text("#run-title")
    assert snapshot(tmp_path / "runs") == before  # the page read the studies, wrote nothing
    for path in ("../x", "runs/studies/lr/../../..", "runs/studies/lr/trial-0000"):
        answer = server.api("/api/study", params={"path": path})
        assert answer.status_code in (403, 404) and "error" in answer.json(), path
