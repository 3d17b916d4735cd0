"""Detection-rule inventories: Sigma, Elastic TOML, Sentinel YAML, Splunk YAML and homegrown CSV/YAML.

    from afteraction.attack import load_kb
    from afteraction.rules import load_rules
    inv = load_rules(["sigma/rules", "my-rules.csv"], load_kb())
    inv.by_technique()["T1059.001"]       # rules mapped to PowerShell (revoked ids redirected)

See ``docs/rules.md`` for the formats, the fields read, the status mapping and what is skipped.
"""

from afteraction.rules.load import MAX_FILE_BYTES, load_rules
from afteraction.rules.model import STATUS_MAP, Rule, RuleError, RuleFormat, RuleInventory, RuleStatus, SkippedFile

__all__ = [
    "MAX_FILE_BYTES",
    "STATUS_MAP",
    "Rule",
    "RuleError",
    "RuleFormat",
    "RuleInventory",
    "RuleStatus",
    "SkippedFile",
    "load_rules",
]
