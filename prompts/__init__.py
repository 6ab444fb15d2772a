"""Prompt templates for the LLM answerer, shipped as package data and loaded by ``rag.prompts``."""
