"""Adversary, campaign and software attribution with explanations and calibrated confidence.

Typical use::

    from afteraction.analyze.attribution import attributor, from_incidents, from_lists
    result = attributor(kb).attribute(from_lists(kb, ["T1566.001", "T1059.001"], ["Cobalt Strike"]))

See ``docs/attribution.md`` for the scorer, the calibration and the evaluation protocols.
"""

from afteraction.analyze.attribution.build import BANDS, MIN_TECHNIQUES, Attributor, attributor
from afteraction.analyze.attribution.evidence import from_incidents, from_lists
from afteraction.analyze.attribution.model import (
    Attribution,
    Candidate,
    Cluster,
    Clusters,
    Contribution,
    Evidence,
    Ranking,
)
from afteraction.analyze.attribution.scoring import DEFAULT_PARAMS, Params

__all__ = [
    "BANDS",
    "DEFAULT_PARAMS",
    "MIN_TECHNIQUES",
    "Attribution",
    "Attributor",
    "Candidate",
    "Cluster",
    "Clusters",
    "Contribution",
    "Evidence",
    "Params",
    "Ranking",
    "attributor",
    "from_incidents",
    "from_lists",
]
