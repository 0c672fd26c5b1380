"""Pipeline-file components, one module per family: what ``component = "..."`` may name in a pipeline file and
in a training config's ``[data] negatives``.

Importing this package registers every component (:func:`transformers_ir.registry.registry` does it on its first
call). The modules import the families as lazy packages (``from transformers_ir import cross_encoders``) and load
a model only inside a factory, so listing the components (``transformers-ir components``) loads no torch.

This layer sits above the families and below training and the experiments: training builds its hard negatives
from a registered first stage, and must not import the experiment layer.

Adding a family's components: write ``_<family>.py`` here with ``@component("name")`` factories taking
``(ctx: Context, *, param=default, ...)`` (annotated: the annotations are what pipeline files are checked
against), and import it below.
"""
from transformers_ir.components import _cross_encoders, _dense, _first_stage, _splade

__all__: list[str] = []  # nothing to import from here: the registry is the interface
_MODULES = (_first_stage, _splade, _dense, _cross_encoders)  # imported for their registrations
