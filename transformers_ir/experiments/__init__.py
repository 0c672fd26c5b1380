"""Declarative experiments: pipeline files, the runner and its report (the component registry is
:mod:`transformers_ir.registry`; its names are re-exported here)."""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "Component", "Context", "ExperimentResult", "PipelineFileError", "PipelineSpec", "build_system", "component",
    "format_table", "parse_pipeline", "plot_deltas", "registry", "run_experiment", "summary", "write_outputs"
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._pipeline_file": ["PipelineFileError", "PipelineSpec", "parse_pipeline"],
    "transformers_ir.registry": ["Component", "Context", "component", "registry"],
    "._report": ["format_table", "plot_deltas", "summary", "write_outputs"],
    "._runner": ["ExperimentResult", "build_system", "run_experiment"],
})
