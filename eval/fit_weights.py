"""Fit the answering layer's weights and thresholds on the dev question sets; report them on val.

    .venv/bin/python eval/fit_weights.py            # prints the fitted constants and the dev/val figures

Dev: eval/gold.jsonl, dev.jsonl, dev2.jsonl … dev8.jsonl and ACLSum train; val: eval/heldout.jsonl,
val2.jsonl … val8.jsonl and ACLSum val (``DEV`` and ``VAL`` below). The test sets (eval/test*.jsonl, ACLSum
test) are never read here.
The printed constants go into rag/evidence.py (SUPPORT_WEIGHTS, SUPPORT_BIAS) and rag/decide.py (CITE_FROM),
and with --abstention into rag/abstain.py; they are fitted, not hand-tuned.

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
from rag.decide import CITE_FROM, MOST_CITED, asked_terms, question_shape  # noqa: E402
from rag.evaluate import GoldQuestion, answer_metrics, load_gold  # noqa: E402
from rag.evidence import SUPPORT_BIAS, SUPPORT_WEIGHTS, support_features  # noqa: E402
from rag.word_meaning import weigh_by_meaning  # noqa: E402

FEATURES = ("sentence", "title", "keyword", "rank", "similarity_gap", "coverage_gap")
DEV = ("gold", "dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "aclsum:train")
VAL = ("heldout", "val2", "val3", "val4", "val5", "val6", "val7", "val8", "aclsum:val")


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
            terms, _ = asked_terms(retrieval, assistant.retriever)
            terms = weigh_by_meaning(terms, retrieval)  # as rag.decide.plan does for the support model
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


def abstention_rows(names: tuple[str, ...], settings: Settings) -> list[tuple[str, bool, dict[str, float] | None]]:
    """(set, answerable, abstention features) per question; features None when retrieval finds nothing
    or the best paper is below the relevance floor (those abstain whatever the model says)."""
    from rag.abstain import abstention_features
    from rag.decide import plan

    found = []
    for name in names:
        assistant, golds = load(name, settings)
        for gold in golds:
            planned = plan(assistant.retriever.retrieve(gold.question), assistant.settings, assistant.retriever)
            evidence = planned.evidence
            floor = evidence is None or evidence.floor_relevance < assistant.settings.abstain_below
            found.append((name, gold.answerable, None if floor else abstention_features(evidence)[0]))
    return found


def abstention_rates(rows_: list, probability: list[float], threshold: float) -> dict[str, tuple[float | None, float]]:
    """Per set: (abstention accuracy on unanswerable questions, share of answerable ones refused)."""
    result = {}
    for name in dict.fromkeys(r[0] for r in rows_):
        refused = [
            (r[2] is None or p >= threshold, r[1]) for r, p in zip(rows_, probability, strict=True) if r[0] == name
        ]
        unanswerable = [x for x, answerable in refused if not answerable]
        answerable = [x for x, answerable in refused if answerable]
        result[name] = (
            round(float(np.mean(unanswerable)), 3) if unanswerable else None,
            round(float(np.mean(answerable)), 3),
        )
    return result


def _objective(refused: list[tuple[bool, bool]]) -> float:
    """Abstention accuracy minus four times the false-abstention rate; (refused, answerable) pairs."""
    caught = np.mean([x for x, answerable in refused if not answerable])
    false = np.mean([x for x, answerable in refused if answerable])
    return float(caught - 4 * false)


def fit_abstention(settings: Settings) -> None:
    """The abstention model: logistic regression on dev, for two regularisations and two weights of ACLSum's
    (all answerable) questions against the hand-written sets; each with the threshold maximising abstention
    accuracy minus four times the false-abstention rate on the hand-written dev sets, printed with val so
    the variant in use is chosen there."""
    from sklearn.linear_model import LogisticRegression

    from rag.abstain import ABSTAIN_BIAS, ABSTAIN_FROM, ABSTAIN_WEIGHTS, unanswerable_probability

    keys = list(ABSTAIN_WEIGHTS)
    dev_rows, val_rows = abstention_rows(DEV, settings), abstention_rows(VAL, settings)

    def probabilities(rows_: list, weights: dict[str, float], bias: float) -> list[float]:
        return [1.0 if f is None else unanswerable_probability(f, weights, bias) for _, _, f in rows_]

    print(
        "abstention in use: dev",
        abstention_rates(dev_rows, probabilities(dev_rows, ABSTAIN_WEIGHTS, ABSTAIN_BIAS), ABSTAIN_FROM),
    )
    print(
        "                   val",
        abstention_rates(val_rows, probabilities(val_rows, ABSTAIN_WEIGHTS, ABSTAIN_BIAS), ABSTAIN_FROM),
    )
    fitted = [r for r in dev_rows if r[2] is not None]
    x = np.array([[r[2][k] for k in keys] for r in fitted])
    y = np.array([int(not r[1]) for r in fitted])
    hand = [i for i, r in enumerate(dev_rows) if not r[0].startswith("aclsum")]
    for c, acl_weight in itertools.product((1.0, 10.0), (0.5, 1.0)):
        weight = np.array([acl_weight if r[0].startswith("aclsum") else 1.0 for r in fitted])
        model = LogisticRegression(C=c, max_iter=2000).fit(x, y, sample_weight=weight)
        weights = {k: float(w) for k, w in zip(keys, model.coef_[0], strict=True)}
        bias = float(model.intercept_[0])
        dev_p = probabilities(dev_rows, weights, bias)
        thresholds = (round(t, 2) for t in np.arange(0.05, 0.95, 0.01))
        threshold = max(thresholds, key=lambda t: _objective([(dev_p[i] >= t, dev_rows[i][1]) for i in hand]))
        print(f"\nC={c}, ACLSum weight {acl_weight}:")
        print("ABSTAIN_WEIGHTS =", {k: round(w, 2) for k, w in weights.items()})
        print("ABSTAIN_BIAS =", round(bias, 2), " ABSTAIN_FROM =", threshold)
        print("  dev", abstention_rates(dev_rows, dev_p, threshold))
        print("  val", abstention_rates(val_rows, probabilities(val_rows, weights, bias), threshold))


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    settings = Settings()
    if "--abstention" in sys.argv:
        fit_abstention(settings)
        return
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
    in_use = np.array([SUPPORT_WEIGHTS[k] for k in FEATURES])
    print("citation F1, val, weights in use:", citation_f1(val, in_use, SUPPORT_BIAS, CITE_FROM))


if __name__ == "__main__":
    main()
