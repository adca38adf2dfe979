"""`toolkit serve`: a LibreTranslate-compatible HTTP server for translation and summarisation,
with dynamic batching across requests. Needs the ``serve`` extra (FastAPI, uvicorn,
prometheus-client, python-multipart); importing this package alone imports none of them."""
