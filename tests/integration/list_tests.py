"""The integration tests ctest runs, derived from the test classes.

    list_tests.py DIR
        Prints "MODULE CLASS" for every unittest.TestCase class with at least
        one test method in DIR/test_*.py, followed by " timewarp" when the
        class runs under tests/timewarp (its body, or a base class's, names
        Warp: it makes a test_long_job.Warp). Reads the files (ast), imports
        nothing: tests/integration/CMakeLists.txt runs it at configure time
        and registers one ctest per module or per class from its output,
        the time-warp ones under one RESOURCE_LOCK.

    list_tests.py --run TARGET
        Runs TARGET (a module or MODULE.CLASS) as `python3 -m unittest -v`
        does, and exits 0 when every test passed, 1 when one failed or none
        ran, and 77 (ctest's SKIP_RETURN_CODE for these tests) when none
        failed but one was skipped, a class or a module included: a skip is
        not a pass. Each ctest runs through this.

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


WARP = "Warp"   # test_long_job.Warp: the time-warp clock of a test


def _names_warp(node):
    return any((isinstance(n, ast.Name) and n.id == WARP) or
               (isinstance(n, ast.Attribute) and n.attr == WARP)
               for n in ast.walk(node))


def ast_classes(directory):
    """[(module, class, uses time-warp)] of the concrete TestCase classes
    in the files. A base class name is looked up in the same file first
    (two files may each have a `Base`), then in the others."""
    defs = {}    # (module, class) -> (bases, has own test methods, names Warp)
    first = {}   # class name -> the first (module, class) of that name
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
            key = (module, node.name)
            defs.setdefault(key, ([_base_name(b) for b in node.bases], own,
                                  _names_warp(node)))
            first.setdefault(node.name, key)
            if module.startswith("test_"):
                order.append(key)

    def bases(key):
        for b in defs[key][0]:
            if b and (key[0], b) in defs:
                yield (key[0], b)
            elif b in first:
                yield first[b]
            elif b:
                yield (None, b)

    def is_case(key, seen=()):
        if key[1] == "TestCase":
            return True
        if key not in defs or key in seen:
            return False
        return any(is_case(b, seen + (key,)) for b in bases(key))

    def inherited(key, index, seen=()):
        """defs[key][index] (own tests, names Warp) of key or a base."""
        if key not in defs or key in seen:
            return False
        return defs[key][index] or any(inherited(b, index, seen + (key,))
                                       for b in bases(key))

    return [(m, c, inherited((m, c), 2)) for m, c in order
            if is_case((m, c)) and inherited((m, c), 1)]


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


SKIPPED = 77


def run(target, directory):
    sys.path.insert(0, directory)
    suite = unittest.defaultTestLoader.loadTestsFromName(target)
    result = unittest.TextTestRunner(verbosity=2, warnings="default").run(suite)
    if not result.wasSuccessful():
        return 1
    if result.testsRun == 0 and not result.skipped:
        print(f"{target}: no test ran", file=sys.stderr)
        return 1
    skipped = [(str(t), why) for t, why in result.skipped]
    skipped += [(str(t), "expected failure") for t, _ in result.expectedFailures]
    for test, why in skipped:
        print(f"SKIPPED: {test}: {why}", file=sys.stderr)
    return SKIPPED if skipped else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--check":
        return check(argv[2], argv[3])
    if len(argv) == 3 and argv[1] == "--run":
        return run(argv[2], os.path.dirname(os.path.abspath(__file__)))
    if len(argv) == 2:
        for module, cls, warp in ast_classes(argv[1]):
            print(module, cls, *(["timewarp"] if warp else []))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
