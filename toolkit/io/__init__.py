"""Input and output: documents and readers, results, run folders and manifests, safe paths."""
