"""Tasks: translation, summarisation and the pipeline over documents, and the batched runner."""
