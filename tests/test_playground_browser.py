"""The playground in a real browser: Debian's Chromium, headless, driven by Playwright.

Each page is used as a learner would: the apple price edited (page 1), a digit drawn with
the mouse and a test image picked, the trace stepped through (page 2), a run started,
watched, stopped and saved (page 3). Screenshots of each page go to
``$LAYERWISE_PLAYGROUND_SHOTS`` if set (the README's come from there), else to a temporary
folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._optional import require, require_program

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def save_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("saved")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("LAYERWISE_PLAYGROUND_SHOTS")
    folder = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(save_dir: Path) -> Iterator[Any]:
    require("starlette")
    require("uvicorn")
    from layerwise.playground.digits import DigitModel
    from layerwise.playground.server import Playground, create_app

    pg = Playground(create_app(DigitModel(), save_dir)).start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require("playwright")
    chromium = require_program("chromium", "the browser tests drive Debian's Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, server: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 860}, device_scale_factor=1)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # a refused request (the 422 a test provokes) is logged by the browser; script errors are bugs
    pg.on("console", lambda msg: errors.append(msg.text)
          if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    pg.set_default_timeout(20_000)
    try:
        yield pg
        assert not errors, errors
    finally:
        context.close()


def edge_texts(page: Any) -> dict[str, tuple[str, str | None]]:
    """The drawn (forward, gradient) texts of the figure's edges, by source label (unique ones)."""
    found = page.eval_on_selector_all("#figure-svg g.edge-group", """groups => Object.fromEntries(groups.map(g => [
        g.dataset.src, [g.querySelector('.fwd').textContent, g.querySelector('.bwd')?.textContent ?? null]]))""")
    return {k: tuple(v) for k, v in found.items()}


def test_page1_apple_price_edit_shows_the_gradients_of_mul_layers(page: Any, server: Any, shots: Path) -> None:
    import layerwise as lw
    from layerwise.figures.graph.fmt import format_number

    page.goto(server.url + "#graphs")
    page.wait_for_selector("#figure-svg[data-figure='apple'] g.edge-group")
    page.fill("#input-price", "150")
    page.wait_for_function("""() => [...document.querySelectorAll('#figure-svg g.edge-group')]
        .some(g => g.dataset.src === 'apple' && g.querySelector('.fwd').textContent === '150')""")
    # the book's layers, by hand (section 5.4.1)
    mul_apple, mul_tax = lw.MulLayer(), lw.MulLayer()
    apple_price = mul_apple.forward(150.0, 2.0)
    price = mul_tax.forward(apple_price, 1.1)
    d_apple_price, d_tax = mul_tax.backward(1.0)
    d_apple, d_num = mul_apple.backward(d_apple_price)
    texts = edge_texts(page)
    assert texts["apple"] == ("150", format_number(d_apple))
    assert texts["apple_num"] == ("2", format_number(d_num))
    assert texts["tax"] == ("1.1", format_number(d_tax))
    assert texts["×"][0] in (format_number(apple_price), format_number(price))
    grads = page.eval_on_selector_all("#figure-svg text.bwd", "ts => ts.map(t => [t.parentNode.dataset.src, JSON.parse(t.dataset.grad)])")
    by_src = {}
    for src, g in grads:
        by_src.setdefault(src, []).append(g)
    assert by_src["apple"] == [pytest.approx(d_apple)] and by_src["tax"] == [pytest.approx(d_tax)]
    assert sorted(by_src["×"]) == pytest.approx(sorted([d_apple_price, 1.0]))
    assert page.text_content("#figure-error") == ""
    page.screenshot(path=str(shots / "page1-apple.png"))

    page.select_option("#figure-select", "sigmoid")
    page.wait_for_selector("#figure-svg[data-figure='sigmoid'] g.edge-group")
    page.screenshot(path=str(shots / "page1-sigmoid.png"))
    page.select_option("#figure-select", "softmax-loss")
    page.wait_for_selector("#figure-svg[data-figure='softmax-loss'] g.edge-group")
    page.fill("#input-t", "7")
    page.wait_for_function("() => document.querySelector('#figure-error').textContent.includes('out of range')")
    page.fill("#input-t", "1")
    page.wait_for_function("() => document.querySelector('#figure-error').textContent === ''")
    page.select_option("#figure-select", "apple-orange")
    page.wait_for_selector("#figure-svg[data-figure='apple-orange'] g.edge-group")
    page.screenshot(path=str(shots / "page1-apple-orange.png"))


def draw_stroke(page: Any, points: list[tuple[float, float]]) -> None:
    box = page.locator("#draw-canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=4)
    page.mouse.up()


def test_page2_drawn_digit_gets_a_prediction_and_sample_matches_net_predict(
        page: Any, server: Any, shots: Path) -> None:
    import layerwise as lw
    from layerwise.playground.digits import sample_data

    page.goto(server.url + "#digits")
    page.wait_for_selector("#model-status[data-state='ready']")
    # a "7": a bar across the top and a stroke down to the bottom left
    draw_stroke(page, [(70, 60), (200, 60), (190, 110), (150, 170), (120, 230)])
    page.wait_for_selector("#probs[data-source='drawing'] [data-p]")
    probs = [float(p) for p in page.eval_on_selector_all("#probs [data-p]", "ps => ps.map(p => p.dataset.p)")]
    assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=1e-6)
    seen = page.evaluate("""() => { const c = document.querySelector('#input-canvas');
        const d = c.getContext('2d').getImageData(0, 0, 28, 28).data; let ink = 0;
        for (let i = 0; i < d.length; i += 4) ink += d[i] > 0; return ink; }""")
    assert 40 < seen < 400, "the 28×28 input shows the stroke, scaled into the field"
    page.screenshot(path=str(shots / "page2-drawn.png"), full_page=True)

    net = server.app.state.digits.network
    _, (x_test, _) = sample_data()
    page.click("#samples canvas[data-index='4']")
    page.wait_for_selector("#probs[data-source='sample:4']")
    shown = [float(p) for p in page.eval_on_selector_all("#probs [data-p]", "ps => ps.map(p => p.dataset.p)")]
    expected = lw.softmax(np.asarray(net.predict(x_test[4:5]), dtype=np.float64))[0]
    np.testing.assert_allclose(shown, expected, rtol=1e-9, atol=1e-12)
    assert int(page.get_attribute("#probs", "data-prediction")) == int(np.argmax(expected))

    steps = page.locator("#trace-steps")
    total = int(steps.get_attribute("data-total"))
    names = page.eval_on_selector_all("#trace-steps li[data-name]", "ls => ls.map(l => l.dataset.name)")
    assert total == len(names) == len(net.layers) + 1
    assert steps.get_attribute("data-reached") == "0"
    for k in (1, 2, 3):
        page.click("#trace-next")
        page.wait_for_selector(f"#trace-steps[data-reached='{k}']")
        assert steps.get_attribute("data-current") == names[total - k]
    assert page.locator("#input-grad").is_hidden()
    page.click("#trace-all")
    page.wait_for_selector(f"#trace-steps[data-reached='{total}']")
    assert steps.get_attribute("data-current") == names[0]
    assert page.locator("#input-grad").is_visible()
    page.select_option("#trace-label", "3")
    page.wait_for_function("() => document.querySelector('#trace-status').textContent.startsWith('label 3')")
    page.click("#trace-all")
    page.wait_for_selector(f"#trace-steps[data-reached='{total}']")
    page.screenshot(path=str(shots / "page2-sample.png"), full_page=True)


def test_page2_a_digit_drawn_by_touch_gets_a_prediction(browser: Any, server: Any) -> None:
    context = browser.new_context(viewport={"width": 800, "height": 900}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(server.url + "#digits")
        page.wait_for_selector("#model-status[data-state='ready']")
        box = page.locator("#draw-canvas").bounding_box()
        cdp = context.new_cdp_session(page)

        def touch(kind: str, x: float, y: float) -> None:
            points = [] if kind == "touchEnd" else [{"x": box["x"] + x, "y": box["y"] + y}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        touch("touchStart", 140, 40)
        for y in range(50, 250, 10):  # a "1"
            touch("touchMove", 140, y)
        touch("touchEnd", 140, 240)
        page.wait_for_selector("#probs[data-source='drawing'] [data-p]")
    finally:
        context.close()


def test_page3_training_curve_grows_and_the_saved_model_loads(
        page: Any, server: Any, save_dir: Path, shots: Path) -> None:
    import layerwise as lw
    from layerwise.playground.digits import sample_data

    page.goto(server.url + "#train")
    page.wait_for_selector("#train-network option", state="attached")
    page.select_option("#train-network", "TwoLayerNet")
    page.select_option("#train-optimizer", "SGD")
    page.fill("#train-lr", "0.1")
    page.fill("#train-epochs", "100")
    page.click("#train-start")
    page.wait_for_selector("#train-status[data-state='running']")
    page.wait_for_function("() => Number(document.querySelector('#loss-chart polyline')?.dataset.n) >= 3")
    first = int(page.get_attribute("#loss-chart polyline", "data-n"))
    page.wait_for_function(f"() => Number(document.querySelector('#loss-chart polyline').dataset.n) > {first + 5}")
    page.wait_for_function("() => Number(document.querySelector('#acc-chart polyline[data-series=test]').dataset.n) >= 2")
    page.click("#train-stop")
    page.wait_for_selector("#train-status[data-state='stopped']")
    page.click("#train-save")
    page.wait_for_selector("#train-saved li[data-file]")
    name = page.get_attribute("#train-saved li[data-file]", "data-file")
    page.screenshot(path=str(shots / "page3-train.png"))
    assert name and "/" not in name and (save_dir / name).is_file()
    net = lw.load_model(save_dir / name)
    _, (x_test, t_test) = sample_data()
    assert net.accuracy(x_test.reshape(len(x_test), -1), t_test) > 0.5
    # stopping kept the weights: the file holds exactly what the stopped session trained
    session = server.app.state.sessions.get(page.get_attribute("#train-status", "data-session"))
    assert session.state == "stopped" and session.iteration > 0
    for key, value in session.weights().items():
        np.testing.assert_array_equal(net.params[key], value)


# -- issue 29: the playground's own rough edges ---------------------------------------------------

def test_page1_fields_caption_and_a_stale_figure_follow_the_inputs(page: Any, server: Any) -> None:
    page.goto(server.url + "#graphs")
    page.wait_for_selector("#figure-svg[data-figure='apple'] g.edge-group")
    fields = page.eval_on_selector_all("#figure-inputs label.field", "ls => ls.map(l => l.dataset.label)")
    drawn = set(page.eval_on_selector_all("#figure-svg g.node", "gs => gs.map(g => g.dataset.label)"))
    assert fields == ["apple", "apple_num", "tax"] and set(fields) <= drawn, (fields, drawn)
    assert "= 220" in page.text_content("#figure-doc")  # the book's example, for the defaults
    page.fill("#input-price", "150")
    page.wait_for_function("() => document.querySelector('#figure-doc').textContent.includes('330')")
    assert "220" not in page.text_content("#figure-doc")
    assert page.get_attribute("#figure-svg", "data-stale") is None and page.is_hidden("#figure-stale")
    page.fill("#input-price", "")  # invalid: the figure of 150 stays, marked out of date
    page.wait_for_selector("#figure-svg[data-stale]")
    assert page.is_visible("#figure-stale") and "apple" in page.text_content("#figure-error")
    page.fill("#input-price", "1e400")  # a number the server refuses: marked too
    page.wait_for_function("() => document.querySelector('#figure-error').textContent.includes('apple')")
    assert page.get_attribute("#figure-svg", "data-stale") == "1"
    page.fill("#input-price", "100")
    page.wait_for_function("() => !document.querySelector('#figure-svg').dataset.stale")
    assert page.is_hidden("#figure-stale") and "= 220" in page.text_content("#figure-doc")


def test_page3_status_line_speaks_plainly_and_the_epoch_axis_has_whole_epochs(page: Any, server: Any) -> None:
    page.goto(server.url + "#train")
    page.wait_for_selector("#train-network option", state="attached")
    assert page.text_content("#train-status") == "Pick the settings and press Start."
    page.fill("#train-epochs", "3")
    page.fill("#train-batch", "200")
    page.click("#train-start")
    page.wait_for_selector("#train-status[data-state='finished']", timeout=120_000)
    status = page.text_content("#train-status")
    assert status.startswith("Finished") and "none" not in status and "finished ·" not in status, status
    page.wait_for_function("() => document.querySelectorAll('#acc-chart polyline[data-n=\"3\"]').length === 2")
    for chart in ("#acc-chart", "#loss-chart", "#grad-chart"):
        ticks = page.eval_on_selector_all(f"{chart} text[data-axis='x']", "ts => ts.map(t => t.textContent)")
        assert ticks and all(float(t).is_integer() for t in ticks), (chart, ticks)


def test_page3_all_bad_settings_and_a_divergence_are_said(page: Any, server: Any) -> None:
    page.goto(server.url + "#train")
    page.wait_for_selector("#train-network option", state="attached")
    page.fill("#train-lr", "0")
    page.fill("#train-batch", "0")
    page.click("#train-start")
    page.wait_for_function("() => document.querySelector('#train-error').textContent.includes('batch_size')")
    assert "lr" in page.text_content("#train-error")
    page.fill("#train-lr", "9")
    page.fill("#train-batch", "100")
    page.fill("#train-epochs", "2")
    page.click("#train-start")
    page.wait_for_selector("#train-status[data-state='diverged']", timeout=120_000)
    assert "smaller learning rate" in page.text_content("#train-status")


def test_at_400px_every_tab_is_on_screen(browser: Any, server: Any, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 400, "height": 800}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(server.url + "#train")
        page.wait_for_selector("#train-network option", state="attached")
        for tab in ("graphs", "digits", "train"):
            box = page.locator(f"#tabs a[data-tab='{tab}']").bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 400, (tab, box)
            assert box["y"] >= 0 and box["y"] + box["height"] <= 800, (tab, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= 400
        page.screenshot(path=str(shots / "narrow-400px-train.png"))
        page.click("#tabs a[data-tab='graphs']")
        page.wait_for_selector("#figure-svg g.edge-group")
        page.screenshot(path=str(shots / "narrow-400px-graphs.png"))
    finally:
        context.close()


# -- issue 31: the playground in Korean ----------------------------------------------------------

KO_TABS = ["1 · 계산 그래프", "2 · 숫자 그리기", "3 · 학습"]
EN_TABS = ["1 · Computational graphs", "2 · Draw a digit", "3 · Train"]

# Every text a person can see: visible text nodes, the options of the selects, and the
# tooltips, placeholders and labels of visible elements (<code> holds code, not words).
VISIBLE_TEXTS = """() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent.trim(), parent = n.parentElement;
        if (!text || parent.closest('code, script, style')) continue;
        if (parent.tagName === 'OPTION' || parent.checkVisibility()) out.push(text);
    }
    for (const e of document.querySelectorAll('[title], [placeholder], [aria-label]')) {
        if (!e.checkVisibility() && e.tagName !== 'OPTION') continue;
        for (const a of ['title', 'placeholder', 'aria-label']) if (e.getAttribute(a)) out.push(e.getAttribute(a));
    }
    out.push(document.title);
    return out;
}"""


def code_names() -> set[str]:
    """The words a Korean page keeps in English: the library's classes (Affine, Relu, Adam...),
    the book's variable names on page 1's figures (apple, tax) and a few of its code words."""
    import layerwise as lw
    from layerwise.playground import graphs

    names = {n for n in dir(lw) if n[:1].isupper()} | {"layerwise", "forward", "backward", "dout", "dx", "mask", "softmax", "exp", "log"}
    for spec in graphs.figure_specs():
        names |= {spec["name"], *(p["name"] for p in spec["params"])}
        graph = graphs.figure_json(graphs.compute_figure(spec["name"]))
        names |= {n["label"] for n in graph["nodes"]}
    return names


def english_words(texts: list[str], allowed: set[str]) -> list[tuple[str, str]]:
    """The (text, word) pairs where a visible text has an English word: a word of two letters
    or more that is not a code name, an id (Affine1, apple_num, layerwise.trace, mnist-sample),
    CamelCase (SoftmaxWithLoss) or an acronym (SGD, ReLU)."""
    import re

    found = []
    for text in texts:
        for word in re.findall(r"[A-Za-z][A-Za-z0-9_.\-]*", text):
            word = word.rstrip(".-")
            if (len(word) < 2 or word in allowed or re.search(r"[0-9_.\-]", word)
                    or re.search(r"[a-z][A-Z]|^[A-Z]{2}", word)):
                continue
            found.append((text, word))
    return found


def tab_names(page: Any) -> list[str]:
    return page.eval_on_selector_all("#tabs a", "as => as.map(a => a.textContent)")


def test_english_and_korean_tables_have_the_same_keys_and_every_figure_is_worded(page: Any, server: Any) -> None:
    import re

    from layerwise.playground import graphs

    page.goto(server.url + "#graphs")
    tables = page.evaluate("""async () => { const m = await import('/static/i18n.js');
        return { en: m.STRINGS.en, ko: m.STRINGS.ko, figures: m.FIGURES_KO }; }""")
    en, ko = tables["en"], tables["ko"]
    assert sorted(en) == sorted(ko)
    for key in en:
        assert en[key].strip() and ko[key].strip(), key
        holes = re.compile(r"\{(\w+)\}")
        assert sorted(holes.findall(en[key])) == sorted(holes.findall(ko[key])), key
    # page 1's figures: a Korean doc and title for each, with the numbers of the library's doc
    numbers = re.compile(r"-?\d+(?:\.\d+)?(?:-\d+)?")
    for spec in graphs.figure_specs():
        words = tables["figures"][spec["name"]]
        for part in ("doc", "title"):  # Korean may order them otherwise
            assert sorted(numbers.findall(words[part])) == sorted(numbers.findall(spec[part])), spec["name"]


def test_page_in_korean_with_lang_ko_has_no_english_sentence_on_any_tab(
        browser: Any, server: Any, shots: Path) -> None:
    allowed = code_names()
    context = browser.new_context(viewport={"width": 1360, "height": 860}, device_scale_factor=1, locale="en-US")
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text)
                if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
        page.set_default_timeout(20_000)
        page.goto(server.url + "?lang=ko#graphs")
        page.wait_for_selector("#figure-svg[data-figure='apple'] g.edge-group")
        assert page.get_attribute("html", "lang") == "ko"
        assert tab_names(page) == KO_TABS and "플레이그라운드" in page.text_content("h1")
        assert page.title() == "layerwise 플레이그라운드"
        seen: list[str] = []
        for name in page.eval_on_selector_all("#figure-select option", "os => os.map(o => o.value)"):
            page.select_option("#figure-select", name)
            page.wait_for_selector(f"#figure-svg[data-figure='{name}'] g.edge-group")
            seen += page.evaluate(VISIBLE_TEXTS)
            if name == "sigmoid":
                page.screenshot(path=str(shots / "ko-page1-sigmoid.png"), full_page=True)
        page.select_option("#figure-select", "apple")
        page.fill("#input-price", "")  # the page's own error, and the stale note
        page.wait_for_selector("#figure-svg[data-stale]")
        assert "숫자를 입력하세요" in page.text_content("#figure-error")
        seen += page.evaluate(VISIBLE_TEXTS)
        page.fill("#input-price", "150")
        page.wait_for_function("() => document.querySelector('#figure-doc').textContent.includes('이 입력값')")
        seen += page.evaluate(VISIBLE_TEXTS)
        page.screenshot(path=str(shots / "ko-page1-apple.png"))

        page.click("#tabs a[data-tab='digits']")
        page.wait_for_selector("#model-status[data-state='ready']")
        seen += page.evaluate(VISIBLE_TEXTS)
        page.click("#samples canvas[data-index='4']")
        page.wait_for_selector("#probs[data-source='sample:4']")
        assert page.text_content("#trace-status").startswith("정답 레이블")
        seen += page.evaluate(VISIBLE_TEXTS)
        page.click("#trace-next")
        page.wait_for_selector("#trace-steps[data-reached='1']")
        seen += page.evaluate(VISIBLE_TEXTS)
        page.click("#trace-all")
        page.wait_for_selector("#input-grad:not([hidden])")
        seen += page.evaluate(VISIBLE_TEXTS)
        page.screenshot(path=str(shots / "ko-page2-digits.png"), full_page=True)

        page.click("#tabs a[data-tab='train']")
        page.wait_for_selector("#train-network option", state="attached")
        assert page.text_content("#train-status") == "설정을 고르고 시작을 누르세요."
        page.fill("#train-lr", "0")
        page.fill("#train-batch", "0")
        page.click("#train-start")  # the server's refusal stays English, introduced in Korean
        page.wait_for_function("() => document.querySelector('#train-error').textContent.startsWith('서버의 답:')")
        page.fill("#train-lr", "0.1")
        page.fill("#train-batch", "200")
        page.fill("#train-epochs", "2")
        page.click("#train-start")
        page.wait_for_selector("#train-status[data-state='finished']", timeout=120_000)
        assert page.text_content("#train-status").startswith("완료 · 2 에폭 완료")
        page.click("#train-save")
        page.wait_for_selector("#train-saved li[data-file]")
        assert "저장함" in page.text_content("#train-saved li")
        page.wait_for_function("() => document.querySelectorAll('#acc-chart polyline[data-n=\"2\"]').length === 2")
        seen += [t for t in page.evaluate(VISIBLE_TEXTS) if not t.startswith("서버의 답:")]
        page.screenshot(path=str(shots / "ko-page3-train.png"))
        page.click("#train-new")
        page.fill("#train-lr", "9")
        page.click("#train-start")
        page.wait_for_selector("#train-status[data-state='diverged']", timeout=120_000)
        status = page.text_content("#train-status")
        assert status.startswith("발산함 ·") and "학습률을 더 작게" in status, status
        seen += page.evaluate(VISIBLE_TEXTS)
        page.screenshot(path=str(shots / "ko-page3-diverged.png"))
        assert not english_words(seen, allowed), "\n".join(sorted({t for t, _ in english_words(seen, allowed)}))
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.parametrize(("locale", "query", "lang"), [
    ("ko-KR", "", "ko"),          # the browser asks for Korean
    ("ko-KR", "?lang=en", "en"),  # the URL wins
    ("en-US", "?lang=ko", "ko"),
    ("en-US", "", "en"),
    ("fr-FR", "", "en"),          # neither: English
])
def test_the_language_follows_the_url_then_the_browser(
        browser: Any, server: Any, locale: str, query: str, lang: str) -> None:
    context = browser.new_context(locale=locale)
    try:
        page = context.new_page()
        page.goto(server.url + query + "#train")
        page.wait_for_selector("#train-network option", state="attached")
        assert page.get_attribute("html", "lang") == lang
        assert tab_names(page) == (KO_TABS if lang == "ko" else EN_TABS)
        words = {"ko": ("설정", "학습률", "배치 크기", "시작"), "en": ("Settings", "Learning rate", "Batch size", "Start")}
        text = page.text_content("#page-train")
        assert all(w in text for w in words[lang]), text
    finally:
        context.close()
