"""Declarative experiments: pipeline files, the runner and its report. The components a pipeline file names
come from :mod:`transformers_ir.registry`."""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "ExperimentResult", "PipelineFileError", "PipelineSpec", "build_system",
    "format_table", "parse_pipeline", "plot_deltas", "run_experiment", "summary", "write_outputs"
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._pipeline_file": ["PipelineSpec", "parse_pipeline"],
    "transformers_ir.errors": ["PipelineFileError"],
    "._report": ["format_table", "plot_deltas", "summary", "write_outputs"],
    "._runner": ["ExperimentResult", "build_system", "run_experiment"],
})
