"""The integration tests ctest runs, derived from the test classes.

    list_tests.py DIR
        Prints "MODULE CLASS" for every unittest.TestCase class with at least
        one test method in DIR/test_*.py. Reads the files (ast), imports
        nothing: tests/integration/CMakeLists.txt runs it at configure time
        and registers one ctest per module or per class from its output.

    list_tests.py --check REGISTERED DIR
        Fails (exit 1) unless every TestCase class that unittest itself
        finds in DIR/test_*.py (imported, as `python3 -m unittest` does) is
        run by a registered ctest. REGISTERED has one "CTEST-NAME TARGET"
        line per registered test, TARGET a module or MODULE.CLASS, as
        CMakeLists.txt writes it. The ctest integration/registered runs this:
        a class that the ast pass missed, or a file or class added since the
        last configure, fails it."""

import ast
import glob
import importlib
import os
import sys
import unittest

PREFIX = unittest.TestLoader.testMethodPrefix


def _base_name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def ast_classes(directory):
    """{(module, class)} of the concrete TestCase classes in the files."""
    defs = {}    # class name -> (bases, has own test methods), any .py here
    order = []   # (module, class) of the classes in test_*.py, in file order
    for path in sorted(glob.glob(os.path.join(directory, "*.py"))):
        module = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            own = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.name.startswith(PREFIX) for n in node.body)
            defs.setdefault(node.name, ([_base_name(b) for b in node.bases], own))
            if module.startswith("test_"):
                order.append((module, node.name))

    def is_case(name, seen=()):
        if name == "TestCase":
            return True
        if name not in defs or name in seen:
            return False
        return any(is_case(b, seen + (name,)) for b in defs[name][0] if b)

    def has_tests(name, seen=()):
        if name not in defs or name in seen:
            return False
        bases, own = defs[name]
        return own or any(has_tests(b, seen + (name,)) for b in bases if b)

    return [(m, c) for m, c in order if is_case(c) and has_tests(c)]


def loaded_classes(directory):
    """[(module, class)] of the TestCase classes unittest loads from the
    files, each under the module that defines it."""
    sys.path.insert(0, directory)
    loader = unittest.TestLoader()
    found = []
    for path in sorted(glob.glob(os.path.join(directory, "test_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        module = importlib.import_module(name)
        for attr, obj in sorted(vars(module).items()):
            if (isinstance(obj, type) and issubclass(obj, unittest.TestCase)
                    and obj.__module__ == name and loader.getTestCaseNames(obj)):
                found.append((name, obj.__name__))
    return found


def check(registered, directory):
    targets = {}
    with open(registered, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                ctest, target = line.split()
                targets[target] = ctest
    missing = [f"{m}.{c}" for m, c in loaded_classes(directory)
               if m not in targets and f"{m}.{c}" not in targets]
    for name in missing:
        print(f"{name}: a TestCase class that no ctest runs (re-run cmake; "
              f"tests/integration/list_tests.py did not find it)", file=sys.stderr)
    if missing:
        return 1
    print(f"{len(targets)} ctests cover every TestCase class in {directory}")
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--check":
        return check(argv[2], argv[3])
    if len(argv) == 2:
        for module, cls in ast_classes(argv[1]):
            print(module, cls)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
