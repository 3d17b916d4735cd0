"""The post-incident review of one incident (``afteraction review``): a typed :class:`Review`."""

from afteraction.analyze.review.build import ReviewContext, review, review_incident, safe_url
from afteraction.analyze.review.model import REVIEW_SCHEMA_VERSION, Index, IndexRow, Review
from afteraction.analyze.review.peers import IncidentFacts, PeerIndex, incident_facts

__all__ = [
    "REVIEW_SCHEMA_VERSION",
    "IncidentFacts",
    "Index",
    "IndexRow",
    "PeerIndex",
    "Review",
    "ReviewContext",
    "incident_facts",
    "review",
    "review_incident",
    "safe_url",
]
