"""Online serving: the FastAPI app, the A/B router, the prediction log, outcome intake and
batch scoring.

``prediction_log`` is also read offline (the promotion gate joins logged predictions with
realized outcomes), so it imports nothing from the rest of ``serve``.
"""
