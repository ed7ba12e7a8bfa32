"""Online serving: the FastAPI app, the A/B router, prediction logging, outcome intake and
batch scoring.

The prediction log itself is :mod:`pipelines.prediction_log`, below ``serve``: the
champion-challenger test and monitoring read it offline without importing the server.
"""
