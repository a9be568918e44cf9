"""The conda environments (envs/*.yaml) hold what the rules' scripts import.

Under `snakemake --sdm conda` each script runs in its rule's environment, and nothing in it comes
from the project virtualenv on purpose. Snakemake's script preamble does append the main process's
`sys.path` to the script's, so that the `snakemake` object can be unpickled
(`sys.path.extend(get_snakemake_searchpaths())` in snakemake/script/__init__.py): that is how the
scripts import `mriseq` from `workflow/` without installing it into every environment. The same
path also reaches the virtualenv's site-packages, so a package missing from an environment is
silently borrowed from the virtualenv where both exist (built for another numpy, or not there at
all on a cluster node) instead of failing. These tests make the environments complete on their
own, read statically: each rule's `conda:` and `script:` from workflow/rules/*.smk, the imports of
the script and, transitively, of the `mriseq` modules it imports (function-level imports too).

Policy: every third-party module the code imports is a direct, pinned dependency of the
environment, even where another package would pull it in (joblib, threadpoolctl and scipy come
with scikit-learn, pillow with matplotlib): the code calls them itself, so their version is part
of what it runs with. Versions match requirements.txt, the environment the tests run in.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "workflow" / "rules"
PACKAGE_DIR = REPO / "workflow" / "mriseq"
ENVS_DIR = REPO / "envs"

# Import name -> the distribution names that provide it (conda-forge or PyPI; any one will do).
DISTRIBUTIONS: dict[str, set[str]] = {
    "numpy": {"numpy"},
    "pandas": {"pandas"},
    "pyarrow": {"pyarrow"},
    "pydicom": {"pydicom"},
    "gdcm": {"gdcm", "python-gdcm"},  # conda-forge calls the GDCM bindings gdcm, PyPI python-gdcm
    "matplotlib": {"matplotlib", "matplotlib-base"},
    "seaborn": {"seaborn"},
    "sklearn": {"scikit-learn"},
    "skimage": {"scikit-image"},
    "scipy": {"scipy"},
    "PIL": {"pillow"},
    "yaml": {"pyyaml"},
    "joblib": {"joblib"},
    "threadpoolctl": {"threadpoolctl"},
    "tqdm": {"tqdm"},
    "tensorflow": {"tensorflow", "tensorflow-cpu"},
    "keras": {"keras"},
}
# Imported by scripts but provided by the main process through the preamble's search path.
HOST_PROVIDED = {"snakemake"}
# What code needs without importing it: pandas' Parquet I/O loads pyarrow; pydicom's pixel
# handlers find the JPEG / JPEG-LS / JPEG 2000 / RLE plugins by entry point; Keras 3 runs on the
# TensorFlow backend.
PYDICOM_PLUGINS = ("pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle",
                   "gdcm")
# Imports inside functions that a rule never calls. The forests share mriseq.models.predictions and
# mriseq.models.cnn.training with the CNN, whose Keras / TensorFlow imports sit inside the CNN's
# functions (the Keras backend with them), so envs/data.yaml stays free of TensorFlow. Only
# function-level imports may be listed: the test fails if one of them is imported as the script
# starts. An entry the rule no longer reaches does no harm.
def _never_run_imports() -> dict[str, set[str]]:
    from mriseq.models import families

    return {f"{stage}_{name}": {"keras", "tensorflow", "Keras backend"}
            for name, family in families().items() if family.env != "tensorflow"
            for stage in ("train", "predict")}


NEVER_RUN_IMPORTS = _never_run_imports()
# requirements.txt name of an environment's distribution, where the two differ (tensorflow: the
# GPU build a GPU node puts in place of tensorflow-cpu, same versions).
REQUIREMENTS_NAME = {"gdcm": "python-gdcm", "matplotlib-base": "matplotlib",
                     "tensorflow": "tensorflow-cpu"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---- rules ----------------------------------------------------------------------------------


def _literal(rule: str, directive: str, text: str) -> str:
    try:
        value = ast.literal_eval(text.strip().rstrip(","))
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, str):
        pytest.fail(f"rule {rule}: `{directive}:` is not a plain string ({text.strip()!r}); "
                    "this test reads the rule files statically")
    return value


def rule_directives(smk: Path) -> dict[str, dict[str, str]]:
    """{rule: {directive: raw value}} of the rules in one snakefmt-formatted rule file."""
    rules: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    directive = None
    for line in smk.read_text().splitlines():
        if match := re.match(r"(?:rule|checkpoint)\s+(\w+)\s*:", line):
            current = rules.setdefault(match[1], {})
            directive = None
        elif line and not line[0].isspace() and not line.startswith("#"):
            current = None
        elif current is not None and (match := re.match(r" {4}(\w+):\s*(.*)$", line)):
            directive = match[1]
            current[directive] = match[2]
        elif current is not None and directive and line.startswith(" " * 8):
            current[directive] = (current[directive] + " " + line.strip()).strip()
    return rules


def family_rules() -> dict[str, tuple[Path, Path, str]]:
    """The rules generated per model family (train_<family>, predict_<family>, in a loop over
    mriseq.models that a static read cannot follow): {rule: (env, script, family module)}. Their
    script loads the family's module by name, so the module is walked with it."""
    from mriseq.models import FAMILY_MODULES, families

    found = {}
    for name, family in families().items():
        env = ENVS_DIR / f"{family.env}.yaml"
        for stage in ("train", "predict"):
            script = REPO / "workflow" / "scripts" / f"{stage}_model.py"
            found[f"{stage}_{name}"] = (env, script, FAMILY_MODULES[name])
    return found


@cache
def script_rules() -> dict[str, tuple[Path | None, Path]]:
    """{rule: (conda env file or None, script)} of every rule with a `script:`."""
    found = {rule: (env, script) for rule, (env, script, _) in family_rules().items()}
    for smk in sorted(RULES_DIR.glob("*.smk")):
        for rule, directives in rule_directives(smk).items():
            if "script" not in directives:
                continue
            script = (smk.parent / _literal(rule, "script", directives["script"])).resolve()
            env = directives.get("conda")
            env_path = (smk.parent / _literal(rule, "conda", env)).resolve() if env else None
            found[rule] = (env_path, script)
    return found


# ---- imports --------------------------------------------------------------------------------


def module_file(module: str) -> Path | None:
    """The source file of a `mriseq` module (None for a name that is no module, e.g. a function
    imported with `from mriseq.x import name`)."""
    parts = module.split(".")
    if parts[0] != "mriseq":
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(module: str) -> list[str]:
    """Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def direct_imports(path: Path, module: str | None) -> tuple[set[str], set[str]]:
    """(module names imported at module level, names imported inside functions) by one file;
    relative imports resolved against `module`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0] if module else ""
    eager: set[str] = set()
    lazy: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        names = lazy if in_function else eager
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module
            names.add(base)
            # `from pkg import sub` imports the submodule pkg.sub when there is one.
            names.update(f"{base}.{alias.name}" for alias in node.names
                         if module_file(f"{base}.{alias.name}"))
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                 ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(path.read_text(), str(path)), False)
    return eager, lazy


def reached_imports(script: Path, also: tuple[str, ...] = ()) -> tuple[dict[str, bool], list[str]]:
    """({every module name the script (and the mriseq modules in ``also``, which it loads by
    name) or the mriseq modules it reaches import: True where it is imported as soon as the
    script starts, False where only inside a function}, the source text of the script and of the
    mriseq modules it reaches)."""
    imported: dict[str, bool] = {}
    sources = {"<script>": script.read_text()}
    reached: dict[str, bool] = {}
    todo: list[tuple[Path, str | None, bool]] = [(script, None, True)]
    todo += [(module_file(module), module, True) for module in also]
    while todo:
        path, module, eager = todo.pop()
        module_level, in_functions = direct_imports(path, module)
        for names, is_eager in ((module_level, eager), (in_functions, False)):
            for name in names:
                imported[name] = imported.get(name, False) or is_eager
                for parent in _with_parents(name):
                    source = module_file(parent)
                    # Visit again when a lazily reached module turns out to be imported eagerly.
                    if source is None or parent in reached and (reached[parent] or not is_eager):
                        continue
                    reached[parent] = is_eager
                    sources[parent] = source.read_text()
                    todo.append((source, parent, is_eager))
    return imported, list(sources.values())


def needed_distributions(script: Path, also: tuple[str, ...] = ()
                         ) -> dict[str, tuple[set[str], bool]]:
    """{what the code needs (an import name or a reason): (distributions that satisfy it, whether
    it is needed as soon as the script starts)}."""
    imported, sources = reached_imports(script, also)
    needs: dict[str, tuple[set[str], bool]] = {}
    unknown = []
    for name, eager in sorted(imported.items()):
        top = name.split(".")[0]
        if top == "mriseq" or top in sys.stdlib_module_names or top in HOST_PROVIDED:
            continue
        if top not in DISTRIBUTIONS:
            unknown.append(top)
            continue
        needs[top] = (DISTRIBUTIONS[top], eager or needs.get(top, (set(), False))[1])
    assert not unknown, f"{script.name} imports {sorted(set(unknown))}: add them to DISTRIBUTIONS"
    text = "\n".join(sources)
    if re.search(r"\b(read|to)_parquet\b", text):
        needs["Parquet I/O"] = ({"pyarrow"}, True)
    if "pydicom.pixels" in text:
        for plugin in PYDICOM_PLUGINS:
            needs[f"pydicom pixel plugin {plugin}"] = (DISTRIBUTIONS.get(plugin, {plugin}), True)
    if "keras" in needs:
        needs["Keras backend"] = (DISTRIBUTIONS["tensorflow"], needs["keras"][1])
    return needs


# ---- environments ---------------------------------------------------------------------------


def _conda_name(spec: str) -> str:
    spec = spec.split("::")[-1]
    return normalise(re.split(r"[\s=<>!\[]", spec, maxsplit=1)[0])


def _pip_name(spec: str) -> str:
    return normalise(re.split(r"[\s=<>!~;@\[]", spec, maxsplit=1)[0])


@cache
def environment(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def env_specs(path: Path) -> tuple[list[str], list[str]]:
    """(conda dependency specs, pip requirement lines) of one env file."""
    conda, pip = [], []
    for dep in environment(path)["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(str(line) for line in dep.get("pip", []))
        else:
            conda.append(str(dep))
    return conda, pip


def env_distributions(path: Path) -> set[str]:
    conda, pip = env_specs(path)
    return {_conda_name(spec) for spec in conda} | {
        _pip_name(line) for line in pip if not line.startswith("-")}


def requirements_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[normalise(name)] = version.strip()
    return pins


ENV_FILES = sorted(ENVS_DIR.glob("*.yaml"))
SCRIPT_RULES = script_rules()


def test_rule_files_are_read():
    # The parser found the rules it should (a format change must not make the tests vacuous).
    assert {"scan_shard", "preprocess_shard", "train_cnn", "train_hist_rf", "report_html"} <= set(
        SCRIPT_RULES)
    for rule, (env, script) in SCRIPT_RULES.items():
        assert script.is_file(), f"rule {rule}: no script {script}"
        assert env is not None, f"rule {rule} has a script but no conda: environment"
        assert env.is_file(), f"rule {rule}: no environment {env}"


@pytest.mark.parametrize("rule", sorted(SCRIPT_RULES))
def test_rule_environment_has_what_its_script_imports(rule):
    env, script = SCRIPT_RULES[rule]
    have = env_distributions(env)
    family = family_rules().get(rule)
    needs = needed_distributions(script, (family[2],) if family else ())
    skipped = NEVER_RUN_IMPORTS.get(rule, set())
    for name in skipped & set(needs):
        assert not needs[name][1], f"rule {rule} imports {name} as its script starts"
    missing = {need: sorted(dists) for need, (dists, _) in needs.items()
               if not dists & have and need not in skipped}
    assert not missing, (f"rule {rule} ({script.name}) runs in {env.relative_to(REPO)}, "
                         f"which lacks {missing}")


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_environment_is_buildable_as_written(env):
    spec = environment(env)
    assert "conda-forge" in spec["channels"], env.name
    conda, pip = env_specs(env)
    for line in pip:
        # Snakemake builds the env from its own copy under .snakemake/conda/, so a path in the
        # pip section (`-e ..`, `-r file`) points nowhere; and the workflow's package comes from
        # the preamble's search path, not from an install.
        assert not line.startswith("-"), f"{env.name}: pip option {line!r}"
        assert not re.match(r"[./]", line), f"{env.name}: pip path {line!r}"
        assert _pip_name(line) != "mriseq", env.name
    assert "mriseq" not in {_conda_name(s) for s in conda}, env.name
    assert any(re.fullmatch(r"python=3\.11(\.\*)?", s) for s in conda), env.name


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_environment_pins_match_requirements(env):
    pins = requirements_pins()
    conda, pip = env_specs(env)
    pinned = [(s, _conda_name(s), re.fullmatch(r"[^=<>!]+==?([\w.]+)", s)) for s in conda] + [
        (s, _pip_name(s), re.fullmatch(r"[^=<>!]+==([\w.]+)", s)) for s in pip]
    for spec, name, match in pinned:
        if name in ("python", "pip") or spec.startswith("-"):
            continue
        assert match, f"{env.name}: {spec!r} is not pinned to one version"
        wanted = pins.get(normalise(REQUIREMENTS_NAME.get(name, name)))
        assert wanted is not None, f"{env.name}: {name} is not in requirements.txt"
        assert match[1] == wanted, f"{env.name}: {spec!r}, requirements.txt has {wanted}"


def test_scripts_find_mriseq_through_the_preamble_search_path(tmp_path):
    """A Python without the project installed (as in a conda env) imports mriseq once the paths
    Snakemake's preamble appends are on its sys.path: the package needs no install per env."""
    from snakemake.common import get_snakemake_searchpaths

    paths = get_snakemake_searchpaths()
    assert any((Path(p) / "mriseq" / "__init__.py").is_file() for p in paths), paths
    code = (f"import sys; sys.path.extend({paths!r}); import mriseq.config, mriseq.scan.sharding; "
            "print(mriseq.__file__)")
    # -I -S: no site-packages, no .pth files, no PYTHONPATH: only what the preamble adds.
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                         text=True, cwd=tmp_path, check=True).stdout
    assert Path(out.strip()).resolve() == (PACKAGE_DIR / "__init__.py").resolve()
