#!/usr/bin/python3
"""`r1 dashboard` in a real browser: headless Chromium driven over the DevTools protocol (CDP), standard library only.

1. A short real training run: a tokenizer and a tiny Llama made with the r1 CLI, then `r1 grpo` for a few steps with
   log_completions (metrics.jsonl, completions.jsonl).
2. `r1 dashboard` on a free port; Chromium (--headless=new, --remote-debugging-pipe: NUL-separated JSON on fds 3/4)
   opens the page.
3. Checks, reading the page's state with Runtime.evaluate: every numeric metric of metrics.jsonl is charted with
   exactly the logged (step, value) points, smoothed as TensorBoard does; the canvases hold the run's colour.
   Then, without reloading the page (a marker set in the page survives): the GRPO run resumes from its checkpoint
   and trains 8 more steps while the page is open, and every step it logs is drawn; a row appended by hand appears;
   the log cut back as a resume does and logged again is redrawn from its start; a second run appears, overlaid in
   another colour. The completions view lists the last step's completions as logged, and filters them by reward.
   No JavaScript exception may occur.
4. Screenshots (PNG) into --out: dashboard.png (the charts) and dashboard-completions.png.

Exit status: 0 passed, 1 failed, 77 skipped (no chromium: scripts/install-deps.sh installs it).
Usage: dashboard-browser-test.py --r1 build/r1 --out build/tests/browser [--chromium PATH] [--keep]
"""
import argparse
import base64
import fcntl
import json
import math
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(cmd, log, **kwargs):
    with open(log, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        started = time.time()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=240, **kwargs)
        out.write(f"(exit {result.returncode} after {time.time() - started:.1f} s)\n".encode())
    if result.returncode != 0:
        with open(log, errors="replace") as f:
            tail = f.read()[-3000:]
        raise Failure(f"{' '.join(cmd[:2])} failed (exit {result.returncode}):\n{tail}")


# ---- 1. A short real training run ----------------------------------------------------------------------------------

def make_grpo_run(r1, work, log):
    """Tokenizer + tiny model with the CLI, then a few GRPO steps. Returns the run directory."""
    rng = random.Random(1)
    model = os.path.join(work, "model")
    corpus = os.path.join(work, "corpus.txt")
    prompts = os.path.join(work, "prompts.jsonl")
    with open(corpus, "w") as c, open(prompts, "w") as p:
        for _ in range(300):
            a, b = rng.randrange(100), rng.randrange(100)
            c.write(f"What is {a} + {b}? <think>{a} + {b} = {a + b}</think> <answer>{a + b}</answer>\n")
            p.write(json.dumps({"problem": f"What is {a} + {b}?", "solution": str(a + b)}) + "\n")
    run([r1, "tokenizer", "train", "--input", corpus, "--out", model, "--vocab-size", "300", "--pre-tokenizer",
         "qwen2", "--special-tokens", "<|endoftext|>,<|im_end|>", "--eos-token", "<|im_end|>", "--pad-token",
         "<|endoftext|>"], log)
    with open(os.path.join(model, "tokenizer.json")) as f:
        tok = json.load(f)
    ids = list(tok["model"]["vocab"].values()) + [t["id"] for t in tok.get("added_tokens", [])]
    eos = next(t["id"] for t in tok["added_tokens"] if t["content"] == "<|im_end|>")
    config = os.path.join(work, "config.json")
    with open(config, "w") as f:
        json.dump({"model_type": "llama", "vocab_size": max(ids) + 1, "hidden_size": 32, "intermediate_size": 64,
                   "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                   "max_position_embeddings": 128, "initializer_range": 0.1, "eos_token_id": eos,
                   "tie_word_embeddings": True}, f)
    run([r1, "--seed", "3", "model", "init", "--config", config, "--out", model], log)
    out = os.path.join(work, "runs", "grpo")

    def grpo(max_steps, *extra):  # the run's command line, to max_steps
        return [r1, "--threads", "2", "grpo", "--model_name_or_path", model, "--dataset_name", prompts,
                "--output_dir", out, "--max_steps", str(max_steps), "--num_generations", "4",
                "--per_device_train_batch_size", "8", "--max_prompt_length", "48", "--max_completion_length", "12",
                "--learning_rate", "1e-3", "--lr_scheduler_type", "constant", "--logging_steps", "1",
                "--save_steps", "100", "--log_completions", "true", "--chat_template", "none", "--reward_funcs",
                "accuracy,format,length", "--beta", "0.04", "--seed", "0", *extra]
    run(grpo(4), log)
    for name in ("metrics.jsonl", "completions.jsonl"):
        check(os.path.exists(os.path.join(out, name)), f"r1 grpo wrote no {name} in {out}")
    return out, grpo


def numeric_series(rows):
    """{metric: [(step, value)]}: every finite number of every row (booleans are not metrics), as the page plots."""
    series = {}
    for row in rows:
        for key, value in row.items():
            if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                series.setdefault(key, []).append((row["step"], value))
    return series


def read_rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def tensorboard_smoothing(values, weight):
    if weight <= 0 or all(v == values[0] for v in values):
        return list(values)
    out, last, n = [], 0.0, 0
    for v in values:
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight ** n))
    return out


# ---- 2. Chromium over the DevTools pipe ----------------------------------------------------------------------------

def find_chromium(explicit):
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """Chromium with --remote-debugging-pipe: the browser reads commands on its fd 3 and writes on its fd 4."""

    def __init__(self, chromium, profile, log):
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # The child's ends at high numbers first, so that moving them to 3 and 4 in the child clobbers nothing.
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 100)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 100)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def child_fds():  # in the child, before exec: fds 3 and 4 (dup2 makes them inheritable)
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        cmd = [chromium, "--headless=new", "--remote-debugging-pipe", f"--user-data-dir={profile}",
               "--no-sandbox",  # needed as root (CI containers); the page is our own, served from 127.0.0.1
               "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
               "--disable-extensions", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--mute-audio", "--hide-scrollbars", "--window-size=1400,1000", "about:blank"]
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=child_fds, close_fds=False)
        os.close(child_r)
        os.close(child_w)
        self.w, self.r = to_browser_w, from_browser_r
        self.buffer = b""
        self.next_id = 0
        self.session = None
        self.exceptions = []  # Runtime.exceptionThrown and console errors of the page

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.time()
            if left <= 0:
                raise Failure("no answer from Chromium over the DevTools pipe")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                data = os.read(self.r, 1 << 20)
                if not data:
                    raise Failure(f"Chromium closed the DevTools pipe (exit status {self.proc.poll()})")
                self.buffer += data
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def _event(self, message):
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.exceptions.append(details.get("exception", {}).get("description") or details.get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.exceptions.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                                for a in params.get("args", [])))

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.w, data):]
        deadline = time.time() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise Failure(f"CDP {method}: {answer['error']}")
                return answer.get("result", {})
            self._event(answer)

    def open(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Runtime.enable")
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise Failure(f"the page could not evaluate {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise Failure(f"timed out after {timeout} s waiting for {what}")

    def screenshot(self, path, height=1000):
        """A PNG of the top `height` pixels of the page (the charts are drawn again at a new window size)."""
        if height != 1000:
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": False})
            time.sleep(0.5)
        self.evaluate("window.scrollTo(0, 0)")
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        if height != 1000:
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        with open(path, "wb") as f:
            f.write(data)
        check(data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000, f"{path}: not a real screenshot")

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.w, self.r):
            os.close(fd)
        self.log.close()


# ---- 3. The checks -------------------------------------------------------------------------------------------------

CHARTS = "JSON.stringify(r1dash.charts())"


def charts(browser):
    return {c["metric"]: c for c in json.loads(browser.evaluate(CHARTS))}


def wait_for_series(browser, run_id, expected, what, timeout=30):
    """Waits until every metric in `expected` is drawn for run_id with exactly these points; returns the charts."""
    deadline = time.time() + timeout
    problem = "no charts"
    while time.time() < deadline:
        drawn = charts(browser)
        problem = None
        for metric, points in expected.items():
            run = drawn.get(metric, {}).get("runs", {}).get(run_id)
            if run is None:
                problem = f"no curve of run {run_id!r} on chart {metric!r}"
                break
            got = list(zip(run["x"], run["y"]))
            if got != [(float(s), float(v)) for s, v in points]:
                problem = f"chart {metric!r}, run {run_id!r}: drew {got}, metrics.jsonl has {points}"
                break
        if problem is None:
            return drawn
        time.sleep(0.1)
    raise Failure(f"{what}: {problem}")


def coloured_pixels(browser, metric, colour):
    """Opaque pixels of the chart's canvas near `colour` (a line over a grid line blends a little with its grey)."""
    r, g, b = int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    return browser.evaluate(f"""(() => {{
      const c = document.querySelector('.chart[data-metric={json.dumps(metric)}] canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (d[i + 3] > 150 && Math.hypot(d[i] - {r}, d[i + 1] - {g}, d[i + 2] - {b}) < 48) n++;
      return n;
    }})()""")


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def check_page(browser, run_dir, grpo, runs_dir, out, log):
    metrics_path = os.path.join(run_dir, "metrics.jsonl")
    rows = read_rows(metrics_path)
    expected = numeric_series(rows)
    check(len(rows) >= 3 and {"loss", "reward", "kl", "learning_rate"} <= set(expected),
          f"the GRPO run logged {len(rows)} rows with metrics {sorted(expected)}")
    browser.wait_for("window.r1dash && r1dash.polls > 0", "the page's first poll")

    # Every metric, every point, as logged; the smoothed curve is TensorBoard's.
    drawn = wait_for_series(browser, "grpo", expected, "the first load")
    check(set(drawn) == set(expected), f"charts {sorted(drawn)} != metrics {sorted(expected)}")
    for metric, points in expected.items():
        want = tensorboard_smoothing([v for _, v in points], 0.6)
        got = drawn[metric]["runs"]["grpo"]["smoothed"]
        check(all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15) for a, b in zip(got, want)) and
              len(got) == len(want), f"{metric}: smoothed {got}, TensorBoard's smoothing gives {want}")
    colour = drawn["loss"]["runs"]["grpo"]["color"]
    check(coloured_pixels(browser, "loss", colour) > 100, f"the loss chart's canvas holds no line in {colour}")
    print(f"first load: {len(expected)} metrics x {len(rows)} rows charted as logged")

    # Live training: the run resumes from its step-4 checkpoint to step 12 while the page is open, without a reload
    # (the marker set now must survive); the page draws each step as the run logs it.
    browser.evaluate("window.__r1_marker = 'the same page'")
    with open(log, "a") as out_log:
        training = subprocess.Popen(grpo(12, "--resume_from_checkpoint", "true"), stdout=out_log,
                                    stderr=subprocess.STDOUT)
    seen_while_training = set()
    while training.poll() is None:
        with open(metrics_path) as f:  # complete lines only: the run may be writing one
            partial = [json.loads(line) for line in f.read().split("\n")[:-1] if line.strip()]
        if partial and 4 < partial[-1]["step"] < 12 and partial[-1]["step"] not in seen_while_training:
            # the page catches up with what is logged so far (it may already show a later step too)
            want = numeric_series(partial)["loss"]
            deadline = time.time() + 15
            while True:
                run = charts(browser).get("loss", {}).get("runs", {}).get("grpo")
                got = list(zip(run["x"], run["y"]))[:len(want)] if run else []
                if got == [(float(st), float(v)) for st, v in want]:
                    break
                check(time.time() < deadline, f"step {partial[-1]['step']} while the run trains: loss drawn "
                      f"{got}, metrics.jsonl has {want}")
                time.sleep(0.05)
            seen_while_training.add(partial[-1]["step"])
        time.sleep(0.05)
    check(training.returncode == 0, f"the resumed r1 grpo run failed (exit {training.returncode}; see {log})")
    rows = read_rows(metrics_path)
    check([r["step"] for r in rows] == list(range(1, 13)), f"the resumed run logged steps {[r['step'] for r in rows]}")
    wait_for_series(browser, "grpo", numeric_series(rows), "the steps the resumed run logged", timeout=15)
    check(browser.evaluate("window.__r1_marker") == "the same page", "the page was reloaded")
    print(f"live training: steps 5-12 drawn as the run logged them (seen mid-run at steps "
          f"{sorted(seen_while_training) or 'none: the run was quicker than a poll'})")

    # A row appended by hand appears the same way.
    last = rows[-1]["step"]
    extra = {"step": last + 1, "loss": 0.0123456789, "reward": 0.987654321, "kl": 0.000314159}
    with open(metrics_path, "a") as f:
        f.write(json.dumps(extra) + "\n")
    grown = numeric_series(rows + [extra])
    wait_for_series(browser, "grpo", grown, "a row appended while the page is open", timeout=15)
    check(browser.evaluate("window.__r1_marker") == "the same page", "the page was reloaded")
    print(f"live: step {last + 1} appended and drawn without a reload")

    # A resume cuts the log back to its checkpoint and logs again: the page rebuilds the curves.
    kept = rows[:2]
    write_atomic(metrics_path, "".join(json.dumps(r) + "\n" for r in kept))
    wait_for_series(browser, "grpo", {"loss": numeric_series(kept)["loss"]}, "the log cut back by a resume",
                    timeout=15)
    resumed = [dict(r, loss=r["loss"] * 0.5) if "loss" in r else r for r in rows[2:]] + [extra]
    with open(metrics_path, "a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in resumed))
    final = numeric_series(kept + resumed)
    wait_for_series(browser, "grpo", final, "the resumed run's new rows", timeout=15)
    print("resume: the cut-back log was redrawn from its start, then grew again")

    # A second run appears and is overlaid in its own colour.
    second = os.path.join(runs_dir, "grpo-lr-2e-3")
    os.makedirs(second)
    second_rows = [{"step": r["step"], "loss": r["loss"] * 1.3 + 0.1, "reward": r.get("reward", 0) + 0.2}
                   for r in kept + resumed if "loss" in r]
    with open(os.path.join(second, "metrics.jsonl"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in second_rows))
    drawn = wait_for_series(browser, "grpo-lr-2e-3", numeric_series(second_rows), "a second run", timeout=15)
    colours = {run: drawn["loss"]["runs"][run]["color"] for run in ("grpo", "grpo-lr-2e-3")}
    check(colours["grpo"] != colours["grpo-lr-2e-3"], f"both runs drawn in {colours['grpo']}")
    check(coloured_pixels(browser, "loss", colours["grpo-lr-2e-3"]) > 100, "the second run's line is not drawn")
    legend = browser.evaluate("[...document.querySelectorAll('#runs li')].map(li => li.dataset.run)")
    check(legend == ["grpo", "grpo-lr-2e-3"], f"the legend lists {legend}")
    # Toggling a run off removes its curve.
    browser.evaluate("document.querySelector('#runs li[data-run=\"grpo-lr-2e-3\"] input').click()")
    check("grpo-lr-2e-3" not in charts(browser)["loss"]["runs"], "a run switched off is still drawn")
    browser.evaluate("document.querySelector('#runs li[data-run=\"grpo-lr-2e-3\"] input').click()")
    check("grpo-lr-2e-3" in charts(browser)["loss"]["runs"], "a run switched on again is not drawn")
    print("overlay: a second run found while the page is open, drawn in another colour, toggled off and on")

    browser.screenshot(os.path.join(out, "dashboard.png"), height=1700)

    # Completions: the last step's, as logged; then filtered by reward.
    completions = read_rows(os.path.join(run_dir, "completions.jsonl"))
    last_step = max(r["step"] for r in completions)
    at_last = [r for r in completions if r["step"] == last_step]
    browser.evaluate("r1dash.showView('completions')")

    def listed():
        return browser.evaluate("[...document.querySelectorAll('#c-list .completion pre')].map(e => e.textContent)")

    want = [r["completion"] for r in at_last][:50]
    browser.wait_for(f"r1dash.completions && r1dash.completions.step === {last_step} && "
                     f"document.querySelectorAll('#c-list .completion').length === {len(want)}",
                     f"the {len(want)} completions of step {last_step}")
    check(listed() == want, f"the completions shown differ from completions.jsonl's step {last_step}")
    browser.screenshot(os.path.join(out, "dashboard-completions.png"))
    rewards = sorted(r["reward"] for r in at_last)
    middle = rewards[len(rewards) // 2]
    for bound, keep in (("c-max", lambda r: r["reward"] <= middle), ("c-min", lambda r: r["reward"] >= middle)):
        browser.evaluate("for (const id of ['c-min', 'c-max']) document.getElementById(id).value = '';"
                         f"document.getElementById('{bound}').value = '{middle!r}';"
                         f"document.getElementById('{bound}').dispatchEvent(new Event('change'))")
        want = [r["completion"] for r in at_last if keep(r)][:50]
        browser.wait_for(f"r1dash.completions && r1dash.completions.matched === {len(want)} && "
                         f"document.querySelectorAll('#c-list .completion').length === {len(want)}",
                         f"{len(want)} completions with {bound} {middle!r}")
        check(listed() == want, f"the completions filtered by {bound} {middle!r} differ from completions.jsonl's")
    print(f"completions: step {last_step}'s {len(at_last)} shown as logged, filtered by reward range")
    browser.evaluate("r1dash.showView('metrics')")


# ---- 4. The whole test ---------------------------------------------------------------------------------------------

def start_dashboard(r1, runs_dir, log):
    out = open(log, "wb")
    proc = subprocess.Popen([r1, "dashboard", runs_dir, "--port", "0", "--reload-interval", "0.2"],
                            stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        with open(log, errors="replace") as f:
            m = re.search(r"on (http://127\.0\.0\.1:\d+/)", f.read())
        if m:
            return proc, m.group(1), out
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    with open(log, errors="replace") as f:
        raise Failure(f"r1 dashboard did not start:\n{f.read()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--r1", required=True, help="the r1 binary")
    parser.add_argument("--out", required=True, help="directory for the run, logs and screenshots")
    parser.add_argument("--chromium", help="the browser (default: chromium on PATH)")
    args = parser.parse_args()
    chromium = find_chromium(args.chromium)
    if not chromium:
        print("SKIP: chromium is not installed (scripts/install-deps.sh installs it); the dashboard's page was not "
              "tested in a browser")
        return SKIP
    out = os.path.abspath(args.out)
    work = os.path.join(out, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log = os.path.join(out, "commands.log")
    open(log, "w").close()
    started = time.time()
    dashboard = browser = None
    try:
        run_dir, grpo = make_grpo_run(args.r1, work, log)
        print(f"r1 grpo: {run_dir} in {time.time() - started:.1f} s")
        dashboard, url, dashboard_log = start_dashboard(args.r1, os.path.join(work, "runs"),
                                                        os.path.join(out, "dashboard.log"))
        profile = tempfile.mkdtemp(prefix="r1-chromium-")
        try:
            browser = Browser(chromium, profile, os.path.join(out, "chromium.log"))
            browser.open(url)
            try:
                check_page(browser, run_dir, grpo, os.path.join(work, "runs"), out, log)
            except Failure:
                browser.screenshot(os.path.join(out, "failure.png"))  # the page as it was
                raise
            check(not browser.exceptions, f"JavaScript errors on the page: {browser.exceptions}")
        finally:
            if browser:
                browser.close()
            shutil.rmtree(profile, ignore_errors=True)
        dashboard.send_signal(signal.SIGTERM)
        status = dashboard.wait(timeout=15)
        dashboard_log.close()
        with open(os.path.join(out, "dashboard.log"), errors="replace") as f:
            text = f.read()
        check(status == 0 and "r1 dashboard: stopped" in text, f"r1 dashboard after SIGTERM: exit {status}\n{text}")
        dashboard = None
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        print(f"(logs in {out})", file=sys.stderr)
        return 1
    finally:
        if dashboard and dashboard.poll() is None:
            dashboard.kill()
    print(f"passed in {time.time() - started:.1f} s; screenshots: {os.path.join(out, 'dashboard.png')}, "
          f"{os.path.join(out, 'dashboard-completions.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
