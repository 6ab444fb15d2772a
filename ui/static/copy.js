(text) => {
  if (!text) { return []; }
  const done = () => {
    const button = document.getElementById("rag-copy");
    if (button) { const label = button.textContent; button.textContent = "Copied \u2713";
                  setTimeout(() => { button.textContent = label; }, 1500); }
  };
  const fallback = () => {
    const area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); done(); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else { fallback(); }
  return [];
}
