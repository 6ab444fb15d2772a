"""Fit the answering layer's weights and thresholds on the dev question sets; report them on val.

    .venv/bin/python eval/fit_weights.py            # prints the fitted constants and the dev/val figures

Dev: eval/gold.jsonl, eval/dev.jsonl and ACLSum train; val: eval/heldout.jsonl and ACLSum val. The test
sets (eval/test.jsonl, ACLSum test) are never read here. The printed constants go into rag/evidence.py
(SUPPORT_WEIGHTS, SUPPORT_BIAS) and rag/decide.py (CITE_FROM); they are fitted, not hand-tuned.

The paper-support model is a logistic regression over ``rag.evidence.support_features`` (is this retrieved
paper one the gold answer cites?). scikit-learn comes with sentence-transformers; it is used only here.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag import aclsum  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.decide import CITE_FROM, MOST_CITED, question_shape  # noqa: E402
from rag.evaluate import GoldQuestion, answer_metrics, load_gold  # noqa: E402
from rag.evidence import question_terms, support_features  # noqa: E402

FEATURES = ("sentence", "title", "keyword", "rank", "similarity_gap", "coverage_gap")
DEV = ("gold", "dev", "aclsum:train")
VAL = ("heldout", "aclsum:val")


def load(name: str, settings: Settings) -> tuple[Assistant, list[GoldQuestion]]:
    if name.startswith("aclsum:"):
        assistant = Assistant(aclsum.benchmark_settings(settings))
        assistant.ingest_papers(aclsum.collection())
        return assistant, aclsum.questions(name.split(":")[1])  # type: ignore[arg-type]
    assistant = Assistant(settings)
    assistant.ensure_indexed()
    return assistant, load_gold(ROOT / "eval" / f"{name}.jsonl")


def rows(names: tuple[str, ...], settings: Settings) -> list[tuple[str, GoldQuestion, list, list[dict]]]:
    """(set, question, pool of papers, their support features) for every answerable question."""
    found = []
    for name in names:
        assistant, golds = load(name, settings)
        for gold in golds:
            if not gold.answerable:
                continue
            retrieval = assistant.retriever.retrieve(gold.question)
            terms = question_terms(gold.question, assistant.retriever.weigh)
            found.append((name, gold, retrieval.papers, support_features(terms, retrieval.papers)))
    return found


def citation_f1(data: list, weights: np.ndarray, bias: float, cite_from: dict[str, float]) -> dict[str, float]:
    scores: dict[str, list[float]] = {}
    for name, gold, papers, features in data:
        x = np.array([[f[k] for k in FEATURES] for f in features])
        probability = 1 / (1 + np.exp(-(x @ weights + bias)))
        order = np.argsort(-probability)
        shape = question_shape(gold.question)
        chosen = [order[0]] + [i for i in order[1:] if probability[i] >= cite_from[shape]]
        key = name if name.startswith("aclsum") else gold.kind
        titles = [papers[i].title for i in chosen[: MOST_CITED[shape]]]
        scores.setdefault(key, []).append(answer_metrics(gold, titles, "", abstained=False)["citation_f1"])
    return {k: round(float(np.mean(v)), 3) for k, v in sorted(scores.items())}


def tolerance_rows(names: tuple[str, ...], settings: Settings) -> list[tuple[str, bool, bool, float, float]]:
    """(set, answerable, has a gap, coverage of the rest, top relevance) for the gaps "which paper"
    questions can tolerate; questions without a gap or not asking for a paper are (set, answerable, False…)."""
    from rag.abstain import gaps
    from rag.decide import finds_papers, plan
    from rag.text import named_terms

    found = []
    for name in names:
        assistant, golds = load(name, settings)
        for gold in golds:
            retrieval = assistant.retriever.retrieve(gold.question)
            planned = plan(retrieval, assistant.settings, assistant.retriever)
            top = retrieval.papers[0].relevance if retrieval.papers else 0.0
            if not retrieval.papers or top < assistant.settings.abstain_below:
                found.append((name, gold.answerable, True, -1.0, top))  # abstains whatever the tolerance
                continue
            names_used = named_terms(gold.question, assistant.retriever.uses)
            gap = gaps(
                gold.question, planned.terms, names_used, "\n".join(planned.texts.values()), planned.shape == "single"
            )
            asks = finds_papers(gold.question, planned.shape)
            found.append((name, gold.answerable, bool(gap), gap.covered if asks else -1.0, top))
    return found


def abstention(rows_: list, coverage: float, relevance: float) -> dict[str, tuple[float | None, float]]:
    """Per set: (abstention accuracy on unanswerable questions, share of answerable ones refused)."""
    result = {}
    for name in dict.fromkeys(r[0] for r in rows_):
        own = [r for r in rows_ if r[0] == name]
        refused = [gap and not (covered >= coverage and top >= relevance) for _, _, gap, covered, top in own]
        unanswerable = [x for x, r in zip(refused, own, strict=True) if not r[1]]
        answerable = [x for x, r in zip(refused, own, strict=True) if r[1]]
        result[name] = (
            round(float(np.mean(unanswerable)), 3) if unanswerable else None,
            round(float(np.mean(answerable)), 3),
        )
    return result


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    settings = Settings()
    dev, val = rows(DEV, settings), rows(VAL, settings)
    x, y = [], []
    for _, gold, papers, features in dev:
        accepted_only = set(gold.also_ok) - set(gold.gold_titles)
        for paper, f in zip(papers, features, strict=True):
            if paper.title in accepted_only:
                continue  # neither right nor wrong to cite: left out of the fit
            x.append([f[k] for k in FEATURES])
            y.append(int(paper.title in gold.gold_titles))
    model = LogisticRegression(C=1.0, max_iter=2000).fit(np.array(x), np.array(y))
    weights, bias = model.coef_[0], float(model.intercept_[0])
    grid = {"single": (0.5, 0.6, 0.7, 0.8, 0.9), "list": (0.05, 0.1, 0.2, 0.3, 0.4), "comparison": (0.1, 0.2, 0.3, 0.5)}
    best = None
    for values in itertools.product(*grid.values()):
        cite_from = dict(zip(grid, values, strict=True))
        scores = citation_f1(dev, weights, bias, cite_from)
        objective = float(np.mean(list(scores.values())))
        if best is None or objective > best[0]:
            best = (objective, cite_from, scores)
    assert best is not None
    _, cite_from, scores = best
    print("SUPPORT_WEIGHTS =", {k: round(float(w), 3) for k, w in zip(FEATURES, weights, strict=True)})
    print("SUPPORT_BIAS =", round(bias, 3))
    print("CITE_FROM =", cite_from, "(in use:", CITE_FROM, ")")
    print("citation F1, dev:", scores)
    print("citation F1, val:", citation_f1(val, weights, bias, cite_from))
    if "--tolerance" in sys.argv:
        from rag.abstain import TOLERATE_COVERAGE, TOLERATE_RELEVANCE

        dev_rows, val_rows = tolerance_rows(DEV, settings), tolerance_rows(VAL, settings)
        print(f"tolerance in use: coverage {TOLERATE_COVERAGE}, relevance {TOLERATE_RELEVANCE}")
        for coverage, relevance in itertools.product((0.3, 0.4, 0.5, 0.6), (0.4, 0.5, 0.6)):
            print(
                f"coverage >= {coverage}, relevance >= {relevance}: (abstention accuracy, refused)",
                "dev",
                abstention(dev_rows, coverage, relevance),
                "val",
                abstention(val_rows, coverage, relevance),
            )


if __name__ == "__main__":
    main()
