"""The values the Facebook-ads data may hold (age ranges, genders, campaigns, interest
codes): shared by the ad-rates task, its data module and its contract checks. Light to
import (the task registry is read when DAG files are parsed)."""

from __future__ import annotations

AGES: tuple[str, ...] = ("30-34", "35-39", "40-44", "45-49")
GENDERS: tuple[str, ...] = ("M", "F")
#: The campaigns of the Kaggle file (its ``xyz_campaign_id``).
CAMPAIGNS: tuple[str, ...] = ("916", "936", "1178")
#: The interest codes of the Kaggle file (the demo draws from the same codes; another
#: code is one-hot ``interest_other``).
INTERESTS: tuple[int, ...] = (2, 7, 10, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                              29, 30, 31, 32, 36, 63, 64, 65, 66, 100, 101, 102, 103, 104,
                              105, 106, 107, 108, 109, 110, 111, 112, 113, 114)
