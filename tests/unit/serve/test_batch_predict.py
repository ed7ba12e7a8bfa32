"""The compiled batch path predicts what the registered post model predicts, bit for bit;
a model without an exact batch form is predicted by its own ``predict``."""

import numpy as np

from pipelines.serve.batch_predict import BatchPostModel, batch_predictor
from pipelines.tasks import get_task

LIKES = get_task("likes")


def test_a_lightgbm_post_model_predicts_exactly_its_own_predict(post_models, serve_posts):
    model = post_models["lightgbm"]
    inputs = LIKES.model_input(serve_posts.iloc[550:])     # known and new accounts
    compiled = BatchPostModel(model, threads=2)
    assert compiled.kind.endswith("lightgbm_tables")
    np.testing.assert_array_equal(compiled.predict(inputs), model.predict(inputs))
    np.testing.assert_array_equal(batch_predictor(model, threads=1)(inputs),
                                  model.predict(inputs))


def test_other_models_keep_their_own_predict(post_models, serve_posts):
    inputs = LIKES.model_input(serve_posts.iloc[600:650])
    ridge = post_models["ridge"]
    np.testing.assert_array_equal(batch_predictor(ridge, threads=2)(inputs),
                                  ridge.predict(inputs))
    # scikit-learn's forest adds its trees' predictions in the order its threads finish, so
    # two calls of its own predict can differ in the last bit (seen: 4e-16 relative)
    forest = post_models["random_forest"]
    np.testing.assert_allclose(batch_predictor(forest, threads=2)(inputs),
                               forest.predict(inputs), rtol=1e-13, atol=0)
