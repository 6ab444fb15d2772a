"""The Gradio chat UI: a thin layer over ``rag.Assistant`` (``rag`` never imports this package).

``from ui.app import build_app, launch`` imports gradio; importing ``ui`` alone does not.
"""
