"""Prompt templates: files in the ``prompts`` package, loaded with ``importlib.resources``.

Every template declares its variables as ``{name}`` (``{{`` and ``}}`` for literal braces). Loading checks
each file against the variables the code fills in, so a template with an unknown or a missing variable
fails at start-up with a message naming the file, and rendering with a missing value is an error too.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from rag.errors import RagError

# template name -> the variables the code fills in (each must appear; no others may)
TEMPLATES: dict[str, frozenset[str]] = {
    "answer_system": frozenset({"no_answer"}),
    "answer_user": frozenset({"sources", "instructions", "question"}),
    "source": frozenset({"n", "title", "evidence"}),
    "instructions_single": frozenset(),
    "instructions_list": frozenset(),
    "instructions_comparison": frozenset(),
    "rewrite_system": frozenset(),
    "rewrite_user": frozenset({"history", "question"}),
}


class PromptError(RagError):
    """A prompt template that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Template:
    name: str
    path: str  # for messages: "prompts/answer_user.txt"
    text: str
    variables: frozenset[str]

    def render(self, **values: object) -> str:
        missing = self.variables - values.keys()
        extra = values.keys() - self.variables
        if missing or extra:
            raise PromptError(
                f"{self.path}: rendered with {sorted(values)} but the template uses {sorted(self.variables)}."
            )
        return self.text.format(**{k: str(v) for k, v in values.items()})


def template_variables(text: str, path: str) -> frozenset[str]:
    """The ``{names}`` a template uses; only plain names are allowed."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise PromptError(f"{path}: {error} (write literal braces as {{{{ and }}}}).") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise PromptError(f"{path}: '{{{name}}}' is not a plain variable; use {{name}} only.")
        names.add(name)
    return frozenset(names)


def _package_files() -> Traversable:
    """The installed ``prompts`` package. An editable install made before ``prompts/__init__.py`` existed
    registers it as a namespace package, which ``importlib.resources`` cannot read: use its directory."""
    try:
        return resources.files("prompts")
    except (ModuleNotFoundError, NotADirectoryError, TypeError):
        pass
    try:
        import prompts
    except ImportError:
        prompts = None  # type: ignore[assignment]
    for entry in getattr(prompts, "__path__", []):
        if Path(entry).is_dir():
            return Path(entry)
    raise PromptError("the prompts package is missing; reinstall the package (pip install -e .).")


def load_template(name: str, expected: frozenset[str], directory: Traversable | Path | None = None) -> Template:
    base = directory if directory is not None else _package_files()
    path = f"prompts/{name}.txt" if directory is None else str(Path(str(base)) / f"{name}.txt")
    source = base / f"{name}.txt"
    try:
        text = source.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        raise PromptError(f"{path} is missing; reinstall the package (pip install -e .).") from None
    text = text.rstrip("\n")
    found = template_variables(text, path)
    unknown = found - expected
    missing = expected - found
    if unknown:
        allowed = ", ".join(f"{{{v}}}" for v in sorted(expected)) or "none"
        names = ", ".join(f"{{{v}}}" for v in sorted(unknown))
        raise PromptError(f"{path} uses unknown variable(s) {names}; allowed: {allowed}.")
    if missing:
        names = ", ".join(f"{{{v}}}" for v in sorted(missing))
        raise PromptError(f"{path} is missing variable(s) {names}; add them to the template.")
    return Template(name, path, text, found)


def load_prompts(directory: Traversable | Path | None = None) -> dict[str, Template]:
    """Every template the LLM answerer uses, checked. ``directory`` overrides the packaged ``prompts``."""
    return {name: load_template(name, expected, directory) for name, expected in TEMPLATES.items()}


@lru_cache(maxsize=1)
def packaged_prompts() -> dict[str, Template]:
    return load_prompts()
