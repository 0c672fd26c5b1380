"""Declarative experiments: pipeline files, the component registry, the runner and its report."""
from transformers_ir.experiments._pipeline_file import PipelineFileError, PipelineSpec, parse_pipeline
from transformers_ir.experiments._registry import Component, Context, component, registry
from transformers_ir.experiments._report import format_table, plot_deltas, summary, write_outputs
from transformers_ir.experiments._runner import ExperimentResult, build_system, run_experiment

__all__ = [
    "Component",
    "Context",
    "ExperimentResult",
    "PipelineFileError",
    "PipelineSpec",
    "build_system",
    "component",
    "format_table",
    "parse_pipeline",
    "plot_deltas",
    "registry",
    "run_experiment",
    "summary",
    "write_outputs",
]
