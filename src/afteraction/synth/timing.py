"""Delays, in seconds: between attack steps, from activity to alert, and from alert to triage and resolution.

All are log-normal (right-skewed: most are short, a few are very long) with a median and a spread
(sigma of the underlying normal), capped. Response times depend on severity only, times a per-technique
factor for the planted skill gaps, so a technique's handling can be compared with the baseline of the
same severity.
"""

from __future__ import annotations

import math
import random

from afteraction.synth.catalog import CLOUD_APP, CLOUD_IDENTITY, DLP, ENDPOINT, IDENTITY, MAIL

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

# Median gap between consecutive attack steps, per incident type.
STEP_GAP = {
    "phishing": 15 * MINUTE, "identity_compromise": 40 * MINUTE, "business_email_compromise": 3 * HOUR,
    "ransomware": 3 * HOUR, "malware": 20 * MINUTE, "insider_data_loss": 1 * DAY, "other": 1 * HOUR,
    "noise": 5 * MINUTE,
}  # fmt: skip
# Median detection delay (activity -> alert created) and its spread, per surface.
DETECTION_DELAY = {
    ENDPOINT: (4 * MINUTE, 1.4), IDENTITY: (10 * MINUTE, 1.2), CLOUD_IDENTITY: (90 * MINUTE, 1.3),
    CLOUD_APP: (45 * MINUTE, 1.3), MAIL: (20 * MINUTE, 1.2), DLP: (15 * MINUTE, 1.0),
}  # fmt: skip
# Median time from alert to triage (first touch) and from triage to resolution, per severity.
ACK = {"high": 25 * MINUTE, "medium": 2 * HOUR, "low": 6 * HOUR, "informational": 16 * HOUR}
RESOLVE = {"high": 5 * HOUR, "medium": 14 * HOUR, "low": 30 * HOUR, "informational": 48 * HOUR}
ACK_SIGMA, RESOLVE_SIGMA = 1.0, 0.9
NOISE_RESOLVE_FACTOR = 0.6  # benign and false positives are closed a little faster
AUTOMATION_RESOLVE = 20 * MINUTE  # median for alerts closed by automated investigation


def lognormal(rng: random.Random, median: float, sigma: float, cap: float) -> float:
    """A log-normal draw with this median, capped at ``cap``."""
    return min(median * math.exp(rng.gauss(0.0, sigma)), cap)


def step_gap(rng: random.Random, itype: str) -> float:
    """Seconds between two consecutive attack steps."""
    return lognormal(rng, STEP_GAP[itype], 1.2, 5 * DAY)


def detection_delay(rng: random.Random, surface: str) -> float:
    """Seconds from a step's activity to its alert (minutes to days, skewed)."""
    median, sigma = DETECTION_DELAY[surface]
    return max(5.0, lognormal(rng, median, sigma, 7 * DAY))


def activity_duration(rng: random.Random) -> float:
    """Seconds an alert's activity lasts (first to last activity)."""
    return lognormal(rng, 90.0, 1.3, 6 * HOUR)


def ack_delay(rng: random.Random, severity: str, factor: float = 1.0) -> float:
    """Seconds from an alert's creation to its triage."""
    return max(30.0, lognormal(rng, ACK[severity] * factor, ACK_SIGMA, 30 * DAY))


def resolve_delay(rng: random.Random, severity: str, factor: float = 1.0) -> float:
    """Seconds from an alert's triage to its resolution."""
    return max(60.0, lognormal(rng, RESOLVE[severity] * factor, RESOLVE_SIGMA, 90 * DAY))
