"""Remediation playbooks: CACAO 2.0 model, builder and validator; Logic Apps export."""
