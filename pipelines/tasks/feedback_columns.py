"""Columns the feedback task adds to its training table: which part a row is in, and
whether it belongs to the campaign held out as unseen. Shared by the task and its training
module (light to import)."""

from __future__ import annotations

#: ``train`` / ``valid`` / ``test`` per row of the training table.
SPLIT_COLUMN = "split"
#: Whether the row is of the campaign no model sees in training (the unseen-campaign slice).
UNSEEN_COLUMN = "unseen_campaign"
