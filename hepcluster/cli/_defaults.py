"""Defaults of the estimators and functions behind the subcommands, read without importing them.

The command line shows every default in ``--help`` and must start at once, but the
estimators live in modules that import numpy, scikit-learn and numba. So the defaults are
read from the source of those modules: the parameter's default expression in the
signature is evaluated with Python's builtins and the module's own top-level constants
(followed through ``from … import`` inside hepcluster). A default that needs anything
else (e.g. a numpy call) is evaluated with only the modules it names imported (numpy),
and only as a last resort by importing the defining module. ``tests/test_cli.py`` checks
every value against :func:`inspect.signature` of the imported object.
"""

import ast
import builtins
import functools
import importlib
import inspect
from pathlib import Path

__all__ = ["constant", "default"]

_PACKAGE = Path(__file__).resolve().parents[1]

# Modules a constant expression may use besides builtins (imported only when needed).
_ALLOWED_MODULES = {"numpy"}

_SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in ("tuple", "list", "dict", "float", "int", "str", "range", "len", "round")
}


# Every (target, parameter) read, for the test that compares them with the signatures.
READ = set()


class _NotStatic(Exception):
    """The expression cannot be evaluated from the source alone."""


@functools.cache
def _tree(module):
    if module.split(".")[0] != "hepcluster":
        raise _NotStatic(module)
    path = _PACKAGE.joinpath(*module.split(".")[1:])
    file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    try:
        return ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError) as error:
        raise _NotStatic(module) from error


def _absolute(module, node):
    """Absolute name of the module of a ``from … import`` statement in ``module``."""
    if not node.level:
        return node.module
    is_package = _PACKAGE.joinpath(*module.split(".")[1:]).is_dir()
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _binding(module, name):
    """The value bound to a top-level ``name`` of ``module``, from its source."""
    for node in reversed(_tree(module).body):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return _evaluate(node.value, module)
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            return _evaluate(node.value, module)
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _binding(_absolute(module, node), alias.name)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name) == name and alias.name in _ALLOWED_MODULES:
                    return importlib.import_module(alias.name)
    raise _NotStatic(f"{module}.{name}")


def _evaluate(node, module):
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    names = {
        child.id
        for child in ast.walk(node)
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)
    }
    bound = {
        child.id
        for child in ast.walk(node)
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
    }
    namespace = {name: _binding(module, name) for name in names - bound - set(_SAFE_BUILTINS)}
    code = compile(ast.Expression(node), f"<default of {module}>", "eval")
    try:
        return eval(code, {"__builtins__": _SAFE_BUILTINS, **namespace})
    except Exception as error:  # anything but a plain constant expression
        raise _NotStatic(ast.unparse(node)) from error


def _signature_node(module, qualname):
    body = _tree(module).body
    for node in body:
        if isinstance(node, ast.FunctionDef) and node.name == qualname:
            return node
        if isinstance(node, ast.ClassDef) and node.name == qualname:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return item
    raise _NotStatic(f"{module}.{qualname}")


def _static_default(module, qualname, parameter):
    arguments = _signature_node(module, qualname).args
    positional = arguments.posonlyargs + arguments.args
    pairs = list(
        zip(
            positional[len(positional) - len(arguments.defaults) :],
            arguments.defaults,
            strict=False,
        )
    )
    pairs += [
        (a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=False) if d
    ]
    for argument, node in pairs:
        if argument.arg == parameter:
            return _evaluate(node, module)
    raise _NotStatic(f"{module}.{qualname}({parameter}=…)")


@functools.cache
def default(target, parameter):
    """Default value of a parameter of a hepcluster function or class.

    Parameters
    ----------
    target : str
        ``"module:name"``, e.g. ``"hepcluster.scanning._scanner:ClusterScanner"`` (a class:
        the parameters of its ``__init__``).
    parameter : str
        Parameter name.

    Returns
    -------
    object
        The default, as :func:`inspect.signature` of the imported object would give it.

    Examples
    --------
    >>> default("hepcluster.calibration._pseudo:run_pseudo_experiments", "bootstrap")
    'poisson'
    """
    READ.add((target, parameter))
    module, _, qualname = target.partition(":")
    try:
        return _static_default(module, qualname, parameter)
    except _NotStatic:
        obj = getattr(importlib.import_module(module), qualname)
        value = inspect.signature(obj).parameters[parameter].default
        if value is inspect.Parameter.empty:
            raise KeyError(f"{target}({parameter}) has no default") from None
        return value


@functools.cache
def constant(target):
    """Value of a top-level constant of a hepcluster module, read from its source.

    Parameters
    ----------
    target : str
        ``"module:NAME"``, e.g. ``"hepcluster.stats._binning:CLUSTER_SCANNING_BINS"``.

    Returns
    -------
    object

    Examples
    --------
    >>> constant("hepcluster.stats._significance:STATISTICS")
    ('poisson', 'poisson-midp', 'gaussian')
    """
    READ.add((target, None))
    module, _, name = target.partition(":")
    try:
        return _binding(module, name)
    except _NotStatic:
        return getattr(importlib.import_module(module), name)
