"""`lz serve`: a model or a recipe's app behind OpenAI-compatible HTTP endpoints.

`app.create_app(backend, limits)` builds the FastAPI app; `backends` holds the two kinds of
backend (a model target through `lazycli.client`, a recipe app through `lazycli.flow`);
`server.serve(...)` runs it with uvicorn. `embed_server.py` (the deploy helper's) is the separate
embedding engine. FastAPI and uvicorn are imported only by those modules, never by this one.
"""
