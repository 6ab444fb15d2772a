"""Corpus formats, one module each: ``parse(path, text) -> Parsed``. ``rag.corpus`` picks one per file."""
