"""The chat UI, end to end: a real `rag ui` server, a real chromium (Debian's), the real index.

One server and one browser serve the whole module; each test opens its own page (its own chat session).
Also here: the UI's pure parts (escaping, the streaming handler, the evaluation view) tested in-process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from conftest import ROOT, free_port, run_env, running_ui

from rag.answer import Answer, Citation, Mode, SentenceVerdict
from rag.answerers.base import Draft, History, Source
from rag.decide import Plan

CHROMIUM = Path("/usr/bin/chromium")
RAG = Path(sys.executable).parent / "rag"
COT = "Which papers say chain-of-thought hurts performance?"
MIND_YOUR_STEP = "Mind Your Step (by Step)"
XSS = "<img src=x onerror=alert(1)>"
SCREENSHOT = ROOT / "docs" / "screenshot.png"

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="apt-get install chromium (make test does)")


# ---------------------------------------------------------------- fixtures: server, browser, page


@pytest.fixture(scope="module")
def ui_home(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ui") / "home"
    shutil.copytree(bundled_index, home)
    return home


@pytest.fixture(scope="module")
def server(ui_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_ui(ui_home, tmp_path_factory.mktemp("ui-log"), command=[str(RAG)]) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is missing: apt-get install chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.fixture
def dialogs() -> list[str]:
    """Every alert/confirm/prompt a page opens lands here: none may fire."""
    return []


@pytest.fixture
def page(browser, server: str, dialogs: list[str]):  # noqa: ANN001, ANN201 - playwright objects
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.rstrip("/"))
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_default_timeout(30_000)
    page.goto(server, wait_until="load")  # gradio keeps a connection open: never wait for networkidle
    page.wait_for_selector("#rag-question textarea")
    yield page
    context.close()


def ask(page, question: str) -> None:  # noqa: ANN001
    """Type a question, send it, wait until its source cards (or its abstention) are shown."""
    groups = page.locator("#rag-sources-panel .rag-src-group").count()
    page.locator("#rag-question textarea").fill(question)
    page.locator("#rag-question textarea").press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#rag-sources-panel .rag-src-group').length > {groups}", timeout=120_000
    )


def upload(page, path: Path) -> str:  # noqa: ANN001
    """Add a corpus file on the Papers tab; returns the status line once ingesting is done."""
    page.get_by_role("tab", name="Papers").click()
    page.locator("#rag-upload input[type=file]").set_input_files(str(path))
    # The status ends in ✔ (ingested) or ⚠ (refused); while ingesting it shows the progress bar instead.
    done = page.locator("#rag-upload-status").filter(has_text=re.compile("[\u2714\u26a0]"))
    done.wait_for(timeout=120_000)
    return done.inner_text()


def paper_count(page) -> int:  # noqa: ANN001
    # The count is filled in after the tab renders: wait for it rather than read an empty element.
    page.wait_for_function(
        "/\\d+\\s+papers/.test(document.querySelector('#rag-paper-count')?.innerText || '')", timeout=60_000
    )
    text = page.locator("#rag-paper-count").inner_text()
    return int(re.search(r"(\d+)\s+papers", text).group(1))


# ---------------------------------------------------------------- browser tests


@needs_chromium
def test_cot_example_gives_cited_answer_with_evidence_cards(page, dialogs, tmp_path: Path) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    page.locator("#rag-examples").get_by_text(COT).click()
    page.wait_for_selector("#rag-sources-panel .rag-src-card", timeout=120_000)

    markers = page.locator("#rag-chat a[href*='#src-']")
    assert markers.count() >= 2
    card = page.locator(".rag-src-card", has=page.locator(".rag-src-title", has_text=MIND_YOUR_STEP))
    expect(card).to_be_visible()
    assert card.locator(".rag-evidence mark").count() >= 1  # the question's key terms are highlighted
    assert re.search(r"relevance \d\.\d\d", card.inner_text())
    expect(page.locator("#rag-badge")).to_contain_text("extractive \u2014 offline")

    # Every marker leads to its own card: click the last one and that card is focused and in view.
    last = markers.nth(markers.count() - 1)
    target = last.get_attribute("href").split("#")[-1]
    last.click()
    expect(page.locator(f"#{target}")).to_have_class(re.compile("rag-focus"))
    expect(page.locator(f"#{target}")).to_be_in_viewport()
    number = target.rsplit("-", 1)[1]
    assert page.locator(f"#{target} .rag-src-n").inner_text() == f"[{number}]"

    # The full abstract opens on demand.
    card.locator("summary").click()
    expect(card.locator(".rag-abstract p")).to_be_visible()

    card.locator("summary").click()
    page.evaluate("window.scrollTo(0, 0)")
    page.mouse.move(0, 0)
    shot = tmp_path / "screenshot.png"
    page.screenshot(path=str(shot))
    if os.environ.get("RAG_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

    # "Copy answer with references" puts the plain-text answer and its References block on the clipboard.
    page.locator("#rag-copy").click()
    expect(page.locator("#rag-copy")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "References:" in copied and f"[1] {MIND_YOUR_STEP}" in copied
    assert dialogs == []


@needs_chromium
def test_follow_up_keeps_earlier_sources_reachable(page) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    ask(page, COT)
    ask(page, "What throughput improvement does AsyncFlow report?")
    expect(page.locator(".rag-src-group.rag-active-group .rag-src-title").first).to_contain_text("AsyncFlow")
    # A marker of the first answer brings the first answer's sources back.
    page.locator("#rag-chat a[href^='#src-1-']").first.click()
    expect(page.locator("#src-1-1")).to_be_visible()
    expect(page.locator("#src-1-1")).to_have_class(re.compile("rag-focus"))
    page.locator("#rag-clear").click()
    expect(page.locator("#rag-chat a[href*='#src-']")).to_have_count(0)
    expect(page.locator("#rag-sources-panel .rag-src-card")).to_have_count(0)


@needs_chromium
def test_uploaded_jsonl_is_indexed_and_answerable(page, tmp_path: Path) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    title = "Quokka Pruning: Sparse Gradient Exchange for Marsupial-Scale Federated Training"
    corpus = tmp_path / "my_papers.jsonl"
    corpus.write_text(
        json.dumps(
            {
                "title": title,
                "abstract": "We introduce Quokka Pruning, a federated training method that exchanges "
                "only the largest 0.5% of gradient entries per round. Quokka Pruning cuts communication "
                "by 37x on twelve federated benchmarks while matching dense accuracy. It needs no extra "
                "hyperparameters.",
                "url": "https://example.org/quokka",
            }
        )
        + "\n"
    )
    page.get_by_role("tab", name="Papers").click()
    before = paper_count(page)
    status = upload(page, corpus)
    assert "1 added" in status, status
    assert paper_count(page) == before + 1
    page.locator("#rag-paper-search input, #rag-paper-search textarea").first.fill("quokka")
    expect(page.locator("#rag-paper-table")).to_contain_text("Quokka Pruning")
    expect(page.locator("#rag-paper-count")).to_contain_text("1 of")

    page.get_by_role("tab", name="Chat").click()
    ask(page, "By how much does Quokka Pruning cut communication in federated training?")
    card = page.locator(".rag-src-card", has=page.locator(".rag-src-title", has_text="Quokka Pruning"))
    expect(card).to_be_visible()
    expect(card.locator("a.rag-src-link")).to_have_attribute("href", "https://example.org/quokka")
    expect(page.locator("#rag-chat")).to_contain_text("37x")


@needs_chromium
def test_malformed_upload_shows_the_parser_error_and_changes_nothing(page, tmp_path: Path) -> None:  # noqa: ANN001
    bad = tmp_path / "broken.jsonl"
    good_line = json.dumps({"title": "A fine paper", "abstract": "This abstract is long enough to be accepted here."})
    bad.write_text(good_line + "\n{not json\n")
    page.get_by_role("tab", name="Papers").click()
    before = paper_count(page)
    status = upload(page, bad)
    assert "Nothing was added" in status
    assert "broken.jsonl, line 2" in status and "not valid JSON" in status
    assert "/tmp" not in status  # the server's temp path is replaced by the file's name
    page.reload(wait_until="load")
    page.get_by_role("tab", name="Papers").click()
    page.wait_for_function("document.querySelector('#rag-paper-count').innerText.includes('papers')")
    assert paper_count(page) == before


@needs_chromium
def test_html_in_corpus_titles_renders_as_text(page, dialogs, tmp_path: Path) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    title = f"Zebrafish Sleep Spindles {XSS} in Larval Cortex"
    corpus = tmp_path / "xss.jsonl"
    corpus.write_text(
        json.dumps(
            {
                "title": title,
                "abstract": "Zebrafish larvae show sleep spindles <script>alert(2)</script> in the pallium. "
                "We record spindle density across 40 larvae and find that zebrafish sleep spindles double "
                "after sleep deprivation.",
                "url": "javascript:alert(3)",
            }
        )
        + "\n"
    )
    assert "1 added" in upload(page, corpus)
    page.locator("#rag-paper-search textarea, #rag-paper-search input").first.fill("zebrafish")
    expect(page.locator("#rag-paper-table")).to_contain_text(XSS)
    page.get_by_role("tab", name="Chat").click()
    ask(page, "In which brain region do zebrafish larvae show sleep spindles?")
    card = page.locator(".rag-src-card", has=page.locator(".rag-src-title", has_text="Zebrafish Sleep Spindles"))
    expect(card.locator(".rag-src-title")).to_have_text(title)
    assert card.locator("a.rag-src-link").count() == 0  # a javascript: URL is never a link
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#rag-sources-panel script, #rag-chat script").count() == 0
    expect(page.locator("#rag-chat")).to_contain_text("<script>alert(2)</script>")
    page.wait_for_timeout(300)
    assert dialogs == []


@needs_chromium
def test_evaluation_tab_shows_the_latest_report_or_says_there_is_none(page) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    from ui.evalview import newest_report

    page.get_by_role("tab", name="Evaluation").click()
    if newest_report() is None:
        expect(page.locator("#rag-eval-caption")).to_contain_text("No evaluation report yet")
    else:
        expect(page.locator("#rag-eval-table")).to_be_visible()
        expect(page.locator("#rag-eval-plot")).to_be_visible()


def test_api_endpoint_returns_the_same_answer_as_ask_json(server: str, ui_home: Path) -> None:
    from gradio_client import Client

    client = Client(server, verbose=False, download_files=False)
    via_api = client.predict(COT, api_name="/ask")
    cli = subprocess.run(
        [str(RAG), "ask", "--json", COT], env=run_env(ui_home), capture_output=True, text=True, timeout=180
    )
    assert cli.returncode == 0, cli.stderr
    via_cli = json.loads(cli.stdout)
    assert set(via_api) == set(via_cli)
    for volatile in ("latency_ms", "usage"):
        via_api.pop(volatile), via_cli.pop(volatile)
    assert via_api == via_cli
    assert len(via_api["citations"]) >= 2


# ---------------------------------------------------------------- `rag ui` refuses unsafe binds


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--host", "0.0.0.0"], {}, "RAG_UI_AUTH=user:password"),
        (["--host", "0.0.0.0", "--auth", "nopassword"], {}, "user:password"),
        (["--host", "0.0.0.0"], {"RAG_UI_AUTH": "alice:"}, "user:password"),
    ],
)
def test_ui_refuses_to_bind_beyond_loopback_without_auth(args, env, expected, tmp_path: Path) -> None:  # noqa: ANN001
    result = subprocess.run(
        [str(RAG), "ui", "--port", str(free_port()), *args],
        env=run_env(tmp_path / "home", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_ui_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(RAG), "ui", "--port", str(port)],
            env=run_env(tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


# ---------------------------------------------------------------- the pure parts, in-process


def _answer(**overrides: object) -> Answer:
    citations = [
        Citation(
            1,
            "p1",
            f"Title {XSS}",
            "Chain-of-thought reduces accuracy by 36%.",
            "https://arxiv.org/abs/1",
            0.71,
        ),
        Citation(
            2,
            "p2",
            "Second [paper]",
            "Planning with CoT *hurts* generalisation.",
            "javascript:alert(1)",
            0.42,
        ),
    ]
    fields: dict[str, object] = {
        "question": COT,
        "text": "CoT hurts [1]. Also [2].\n\nReferences:\n[1] ...",
        "citations": citations,
        "retrieved": ["a", "b"],
        "abstained": False,
        "mode": "llm",
        "latency_ms": 1234.0,
        "body": f"CoT hurts {XSS} accuracy [1]. It also hurts planning [1, 2]. Unknown marker [7].",
    }
    fields.update(overrides)
    return Answer(**fields)  # type: ignore[arg-type]


def test_chat_markdown_escapes_text_and_links_only_known_markers() -> None:
    from ui import render

    markdown = render.chat_markdown(_answer(), turn=3)
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt;" in markdown
    assert "[\\[1\\]](#src-3-1)" in markdown and "[\\[2\\]](#src-3-2)" in markdown
    assert "#src-3-7" not in markdown and "\\[7\\]" in markdown  # an unknown marker stays plain text


def test_sources_html_escapes_titles_and_drops_unsafe_links() -> None:
    from ui import render

    answer = _answer()
    answer.citations[0].abstract = f"Full abstract {XSS} about chain-of-thought."
    html = render.sources_html([render.Turn(1, COT, answer)])
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="https://arxiv.org/abs/1"' in html and "javascript:" not in html
    assert 'id="src-1-1"' in html and 'id="src-1-2"' in html
    assert "<mark>Chain</mark>" in html  # key terms of the question are highlighted
    assert "Full abstract" in html


def test_unsupported_sentences_low_relevance_and_abstention_are_said_plainly() -> None:
    from ui import render

    verdicts = [
        SentenceVerdict("It also hurts planning [1, 2].", [1, 2], False, "not in the abstracts"),
        SentenceVerdict("CoT hurts", [1], True),
    ]
    answer = _answer(sentences=verdicts, low_relevance=True)
    markdown = render.chat_markdown(answer, 1)
    assert "not supported by the cited abstracts" in markdown
    assert "Low relevance" in markdown
    html = render.sources_html([render.Turn(1, COT, answer)])
    assert "1 sentence not supported" in html and "rag-banner-low" in html

    uncited = [SentenceVerdict("Models also dream of electric sheep.", [], False, "uncited")]
    claim = _answer(sentences=uncited, body="CoT hurts [1]. Models also dream of electric sheep.")
    assert render.chat_markdown(claim, 3).count("not supported by the cited abstracts") == 1  # marked, not hidden
    assert "1 sentence not supported" in render.sources_html([render.Turn(3, COT, claim)])

    abstained = _answer(abstained=True, citations=[], body="The abstracts don't answer this.", related=["Near"])
    assert "No answer" in render.chat_markdown(abstained, 2)
    assert "Possibly related" in render.sources_html([render.Turn(2, "q", abstained)])


def test_badge_names_the_answerer_and_any_fault() -> None:
    from rag.answer import Mode
    from rag.config import Settings
    from ui import render

    offline = Settings()
    assert "extractive \u2014 offline" in render.badge_html(offline, Mode.EXTRACTIVE)
    llm = Settings(llm_base_url="http://10.0.0.5:8080/v1", llm_model="tiny-chat")
    assert "tiny-chat @ 10.0.0.5:8080" in render.badge_html(llm, Mode.LLM)
    assert "Answered by: LLM" in render.badge_html(llm, Mode.LLM, _answer())
    fallback = _answer(mode="extractive", notice="LLM unreachable (timeout); answered extractively.", fault="timeout")
    badge = render.badge_html(llm, Mode.LLM, fallback)
    assert "extractive \u2014 offline" in badge and "rag-notice-fault" in badge and "LLM unreachable" in badge
    chosen = render.badge_html(llm, Mode.EXTRACTIVE, _answer(mode="extractive", notice="Extractive (as requested)."))
    assert "rag-notice-info" in chosen


class ScriptedAnswerer:
    """The hosted model's stand-in (none runs here), plugged in through the ``Answerer`` protocol: it answers
    with the title of the best retrieved paper, cited, in two deltas."""

    mode = Mode.LLM
    abstain_notice = None

    def __init__(self, rewritten: str | None = None) -> None:
        self.rewritten = rewritten
        self.histories: list[list[tuple[str, str]]] = []
        self.plans: list[Plan] = []

    def rewrite(self, question: str, history: History) -> str | None:
        self.histories.append(list(history))
        return self.rewritten

    def draft(self, plan: Plan, stream: bool = False) -> Generator[str, None, Draft]:
        self.plans.append(plan)
        papers = plan.retrieval.papers
        deltas = [f"{papers[0].title} ", "is the closest paper [1]."]
        yield from deltas
        sources = [Source(n, p, f"{p.title}\n{p.abstract}") for n, p in enumerate(papers, start=1)]
        return Draft("".join(deltas), sources, self.mode, author="scripted model")


def test_respond_streams_deltas_then_renders_the_answer_and_passes_history(bundled_index: Path) -> None:
    from rag.assistant import Assistant
    from rag.config import Settings
    from ui.handlers import respond
    from ui.service import ChatService

    scripted = ScriptedAnswerer(rewritten="Does chain-of-thought hurt accuracy?")
    settings = Settings(home=bundled_index)
    service = ChatService(settings, Assistant(settings, answerers={"llm": scripted}))
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "earlier answer [1]"}]
    steps = list(respond(service, "and does it hurt?", [], history, [], 5, "dense", "llm"))
    chats = [step[0] for step in steps]
    title = scripted.plans[0].retrieval.papers[0].title
    assert chats[1][-1]["content"].startswith(render_text(title))  # a streamed delta is shown as it arrives
    final_chat, _, final_history, turns, sources, badge, copy_text = steps[-1]
    assert "Searched for:" in final_chat[-1]["content"] and "#src-1-1" in final_chat[-1]["content"]
    assert scripted.histories == [[("earlier", "earlier answer [1]")]]
    plan = scripted.plans[0]
    assert plan.question == "Does chain-of-thought hurt accuracy?" and plan.retrieval.mode == "dense"
    assert plan.retrieval.k == 5 and len(plan.ranked) == 5
    answer = turns[-1].answer
    assert answer.mode == "llm" and [v.supported for v in answer.sentences] == [True]
    assert final_history[-2:] == [
        {"role": "user", "content": "and does it hurt?"},
        {"role": "assistant", "content": f"{title} is the closest paper [1]."},
    ]
    assert turns[-1].turn == 1 and 'id="src-1-1"' in sources and "LLM" in badge and copy_text.startswith(title)


def render_text(text: str) -> str:
    from ui import render

    return render.md_text(text)


def test_evaluation_view_reads_the_newest_report(tmp_path: Path) -> None:
    from ui import evalview

    assert evalview.load_view(tmp_path).path is None
    old = tmp_path / "old" / "results.json"
    new = tmp_path / "latest" / "results.json"
    for path, recall in ((old, 0.1), (new, 0.9)):
        path.parent.mkdir()
        path.write_text(
            json.dumps(
                {
                    "config": {"retriever": "hybrid", "k": 10},
                    "summary": {"recall@10": recall, "mrr": 0.8, "note": "text is skipped"},
                    "by_kind": {"single_fact": {"recall@10": 1.0, "mrr": 0.9}, "list": {"recall@10": 0.7}},
                    "questions": [{}, {}, {}],
                }
            )
        )
        time.sleep(0.01)
    os.utime(old, (time.time() - 100, time.time() - 100))
    view = evalview.load_view(tmp_path)
    assert view.path == new and view.summary == {"recall@10": 0.9, "mrr": 0.8} and view.questions == 3
    headers, rows = view.table()
    assert headers == ["metric", "overall", "single_fact", "list"]
    assert rows[0] == ["recall@10", 0.9, 1.0, 0.7] and rows[1] == ["mrr", 0.8, 0.9, None]
    assert view.chart_rows("recall@10") == [
        {"kind": "single_fact", "value": 1.0},
        {"kind": "list", "value": 0.7},
    ]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{not json")
    assert "cannot be read" in evalview.load_view(tmp_path).error


def test_rag_never_imports_ui_or_gradio() -> None:
    code = (
        "import sys, rag, rag.cli, rag.assistant\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('ui', 'gradio')])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stderr


def test_llm_mode_streams_rewrites_follow_ups_and_flags_unsupported_sentences(bundled_index: Path) -> None:
    """The chat handler over a real Assistant whose LLM is a real (scripted) OpenAI-compatible server."""
    from openai_server import ScriptedOpenAI, reply

    from rag.assistant import Assistant
    from rag.config import Settings
    from ui.handlers import respond
    from ui.service import ChatService

    def cite_asyncflow(body: dict) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        n = re.search(r"\[(\d+)\] AsyncFlow", user).group(1)
        return (
            "AsyncFlow reports an average 1.59 throughput improvement over the state-of-the-art "
            f"baseline [{n}]. It was also benchmarked on lunar rovers [{n}]."
        )

    llm = ScriptedOpenAI().start()
    try:
        standalone = "What throughput improvement does AsyncFlow report over the baseline?"
        llm.push(reply(f"Standalone question: {standalone}"), reply(cite_asyncflow, chunk_chars=16))
        settings = Settings(home=bundled_index, llm_base_url=llm.url, llm_model="scripted-model", llm_timeout=10)
        backend = ChatService(settings, Assistant(settings))
        history = [
            {"role": "user", "content": "Tell me about AsyncFlow."},
            {"role": "assistant", "content": "AsyncFlow is an asynchronous streaming RL framework [1]."},
        ]
        steps = list(respond(backend, "How much faster is it?", [], history, [], 5, "hybrid", "auto"))
    finally:
        llm.stop()

    streamed = [s[0][-1]["content"] for s in steps[1:-1]]
    assert len(streamed) >= 3 and all(c.endswith("\u258c") for c in streamed)  # deltas shown as they arrive
    chat, _, new_history, turns, sources, badge, copy_text = steps[-1]
    final = chat[-1]["content"]
    answer = turns[-1].answer
    assert answer.mode == "llm" and answer.rewritten_question == standalone
    assert f"Searched for:_ \u201c{standalone}\u201d" in final
    assert re.search(r"\[\\\[\d\\\]\]\(#src-1-\d\)", final)  # the marker links to its card
    assert [v.supported for v in answer.sentences] == [
        True,
        False,
    ]  # the lunar rovers are not in the abstract
    assert final.count("not supported by the cited abstracts") == 1 and "1 sentence not supported" in sources
    assert "AsyncFlow" in sources and "LLM \u00b7 scripted-model @ 127.0.0.1" in badge
    assert "Tell me about AsyncFlow." in llm.chats[0]["messages"][1]["content"]  # history reached the rewrite
    assert new_history[-1]["content"] == answer.body and copy_text == answer.text


class RecordingAnswerer:
    """The real extractive answerer, remembering the retrieval each question got."""

    def __init__(self, settings: object) -> None:
        from rag.answerers.extractive import ExtractiveAnswerer

        self.inner = ExtractiveAnswerer(settings)  # type: ignore[arg-type]
        self.mode = self.inner.mode
        self.abstain_notice = self.inner.abstain_notice
        self.modes: list[str] = []

    def rewrite(self, question: str, history: History) -> str | None:
        return None

    def draft(self, plan: Plan, stream: bool = False) -> Generator[str, None, Draft]:
        self.modes.append(plan.retrieval.mode)
        return (yield from self.inner.draft(plan, stream))


def test_questions_during_an_ingest_use_the_dense_index_and_say_so(bundled_index: Path) -> None:
    from rag.assistant import AskOptions, Assistant
    from rag.config import Settings
    from ui.service import ChatService

    settings = Settings(home=bundled_index)
    recorder = RecordingAnswerer(settings)
    service = ChatService(settings, Assistant(settings, answerers={"extractive": recorder}))
    service.ingesting.set()
    answer = service.ask(COT, AskOptions(k=5, retriever="hybrid"))
    assert recorder.modes[-1] == "dense" and answer.notice.startswith("Papers are being added")
    service.ingesting.clear()
    answer = service.ask(COT, AskOptions(k=5, retriever="bm25"))
    assert recorder.modes[-1] == "bm25" and not answer.notice.startswith("Papers are being added")


def test_auth_protects_the_app_and_its_api(bundled_assistant: object) -> None:
    from gradio_client import Client

    from ui.app import build_app
    from ui.service import ChatService

    settings = bundled_assistant.settings  # type: ignore[attr-defined]
    demo = build_app(settings, ChatService(settings, bundled_assistant))  # type: ignore[arg-type]
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        auth=("alice", "s3cret"),
        share=False,
        prevent_thread_lock=True,
        quiet=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain ValueError/HTTP error
            Client(url, verbose=False)
        with pytest.raises(Exception):  # noqa: B017
            Client(url, auth=("alice", "wrong"), verbose=False)
        answer = Client(url, auth=("alice", "s3cret"), verbose=False).predict(COT, 3, api_name="/ask")
        assert answer["question"] == COT and answer["citations"][0]["n"] == 1
    finally:
        demo.close()
