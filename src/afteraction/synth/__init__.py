"""Seeded sample-data generator with planted ground truth (demo, tests, benchmarks).

    from afteraction.attack import load_kb
    from afteraction.synth import Options, generate, load_truth
    result = generate(Options(incidents=200, weeks=26, seed=7), "sample", load_kb())
    truth = load_truth(result.truth_path)

Writes Microsoft Graph security v1.0 incident exports (list pages or NDJSON) under ``DIR/export`` and
``DIR/truth.json``. The same seed and options give byte-identical files. See ``docs/generate.md``.
"""

from afteraction.synth.generate import Result, generate
from afteraction.synth.plan import DEFAULT_END, Options
from afteraction.synth.truth import Truth, TruthIncident, load_truth

__all__ = ["DEFAULT_END", "Options", "Result", "Truth", "TruthIncident", "generate", "load_truth"]
