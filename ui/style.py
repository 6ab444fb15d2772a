"""The app's CSS (a Python string, so it ships with the package without package-data rules)."""

CSS = """
#rag-header { align-items: center; }
#rag-title h2 { margin-bottom: 0.1em; }
#rag-badge { display: flex; justify-content: flex-end; }
.rag-badge-box { display: flex; flex-direction: column; align-items: flex-end; gap: 4px; }
.rag-badge-row { display: flex; gap: 8px; align-items: center; }
.rag-badge {
  display: inline-block; padding: 3px 10px; border-radius: 999px; font-size: 0.85em; font-weight: 600;
  border: 1px solid var(--border-color-primary); white-space: nowrap;
}
.rag-badge-extractive { background: #eef2ff; color: #3730a3; border-color: #c7d2fe; }
.rag-badge-llm { background: #ecfdf5; color: #065f46; border-color: #a7f3d0; }
.rag-latency { font-size: 0.8em; color: var(--body-text-color-subdued); }
.rag-notice { font-size: 0.8em; max-width: 46em; text-align: right; color: var(--body-text-color-subdued); }
.rag-notice-fault { color: #b45309; font-weight: 600; }

#rag-sources-panel { max-height: 640px; overflow-y: auto; padding-right: 4px; }
.rag-sources.rag-empty p { color: var(--body-text-color-subdued); font-size: 0.95em; }
.rag-src-group { display: none; }
.rag-src-group.rag-active-group { display: block; }
.rag-src-question { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0 0 8px; }
.rag-src-card {
  border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px; margin: 0 0 10px;
  background: var(--block-background-fill); transition: box-shadow 0.2s, border-color 0.2s;
  scroll-margin: 12px;
}
.rag-src-card.rag-focus { border-color: #6366f1; box-shadow: 0 0 0 3px rgba(99, 102, 241, 0.35); }
.rag-src-card header { font-weight: 600; line-height: 1.35; margin-bottom: 6px; }
.rag-src-n { color: #4f46e5; margin-right: 2px; }
.rag-evidence {
  margin: 6px 0; padding: 6px 10px; border-left: 3px solid #a5b4fc;
  background: var(--background-fill-secondary);
  font-size: 0.92em; line-height: 1.45;
}
.rag-evidence mark, .rag-abstract mark {
  background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px;
}
.rag-src-meta { font-size: 0.82em; color: var(--body-text-color-subdued); }
.rag-score { font-variant-numeric: tabular-nums; padding: 1px 6px; border-radius: 6px; }
.rag-score-high { background: #dcfce7; color: #166534; }
.rag-score-mid { background: #fef9c3; color: #854d0e; }
.rag-score-low { background: #fee2e2; color: #991b1b; }
.rag-abstract { margin-top: 6px; font-size: 0.88em; }
.rag-abstract summary { cursor: pointer; color: var(--body-text-color-subdued); }
.rag-abstract p { margin: 6px 0 0; line-height: 1.45; }
.rag-banner { border-radius: 8px; padding: 8px 10px; margin: 0 0 10px; font-size: 0.9em; }
.rag-banner ul { margin: 4px 0 0 1.2em; padding: 0; }
.rag-banner-low { background: #fef3c7; color: #78350f; border: 1px solid #fcd34d; }
.rag-banner-abstain { background: #f3f4f6; color: #1f2937; border: 1px solid #d1d5db; }
.rag-banner-unsupported { background: #fee2e2; color: #7f1d1d; border: 1px solid #fca5a5; }
.rag-reason { opacity: 0.8; }
#rag-chat a[href*="#src-"] { text-decoration: none; font-weight: 600; color: #4f46e5; cursor: pointer; }
#rag-chat a[href*="#src-"]:hover { text-decoration: underline; }
"""
