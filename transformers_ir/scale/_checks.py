"""A pipeline file's ``scale`` table, checked without importing Ray, PyTerrier or torch."""
from __future__ import annotations

BACKENDS = ("ray",)
#: The keys of a pipeline file's ``scale`` table besides ``backend``, and their types.
OPTIONS = {"batch_size": int, "concurrency": int, "num_cpus": (int, float), "num_gpus": (int, float)}


def scale_problems(table) -> list[str]:
    """What is wrong with a pipeline file's ``scale`` table (empty when it is valid).

    Args:
        table: the value of the ``scale`` key.

    Returns:
        The problems, each naming the key and the fix.
    """
    if not isinstance(table, dict):
        return [f'scale must be a table such as {{ backend = "ray", concurrency = 2 }}, got {table!r}']
    problems = []
    if table.get("backend") not in BACKENDS:
        problems.append(f"scale backend must be one of {', '.join(map(repr, BACKENDS))}, got {table.get('backend')!r}")
    for key, value in table.items():
        if key == "backend":
            continue
        if key not in OPTIONS:
            problems.append(f"unknown scale key {key!r} (valid: backend, {', '.join(OPTIONS)})")
        elif isinstance(value, bool) or not isinstance(value, OPTIONS[key]) or value < (1 if OPTIONS[key] is int
                                                                                          else 0):
            problems.append(f"scale {key} must be a {'positive int' if OPTIONS[key] is int else 'number >= 0'}, "
                            f"got {value!r}")
    return problems
