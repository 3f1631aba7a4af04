"""The bridge: a long-running HyperSeg server that Nuke (and anything else) talks to over HTTP/JSON.

Nuke's own Python cannot hold PyTorch and a GPU model safely, so the model lives in this separate
process (`hyperseg-vfx serve`). It keeps the model warm, caches per-frame features so that a new
click costs only the network, and writes EXR mattes with the same code as `hyperseg-vfx render`.

    settings.py   what the server is started with (BridgeSettings)
    security.py   the bind rule, the token, the folders request paths must lie in
    schemas.py    request and response bodies (pydantic; unknown fields refused)
    errors.py     the one error shape {"error": {"code", "message", "field"}} and its handlers
    middleware.py token check and body-size limit, before any route runs
    worker.py     the single model thread: interactive requests first, job frames after
    shots.py      requests -> validated, path-checked Shots (the render code's input)
    jobs.py       background shot renders (render_shot through the worker), cancellable
    service.py    the operations: the model behind the worker, segment, jobs, submit
    app.py        the FastAPI application (create_app): routes over the service
    server.py     uvicorn with a clean shutdown (serve)
"""
