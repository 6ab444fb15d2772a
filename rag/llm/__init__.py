"""The optional chat model: ``client`` (endpoint, llama-index LLM, retries), ``faults`` (one-line
messages for every failure), ``tokens`` (the prompt's token budget). Nothing here imports llama-index or
the openai client until a model is actually built or asked."""
