(() => {
  if (window.__ragCitations) return;
  window.__ragCitations = true;
  // [n] markers in an answer link to #src-<turn>-<n>: show that turn's sources and bring card n into view.
  document.addEventListener("click", (event) => {
    const link = event.target && event.target.closest ? event.target.closest("a[href*='#src-']") : null;
    if (!link) return;
    const id = (link.getAttribute("href") || "").split("#").pop();
    if (!/^src-[0-9]+-[0-9]+$/.test(id)) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(id);
    if (!card) return;
    const group = card.closest(".rag-src-group");
    document.querySelectorAll(".rag-src-group")
      .forEach((g) => g.classList.toggle("rag-active-group", g === group));
    document.querySelectorAll(".rag-src-card.rag-focus").forEach((c) => c.classList.remove("rag-focus"));
    card.classList.add("rag-focus");
    card.scrollIntoView({ behavior: "auto", block: "nearest" });
  }, true);
})();
