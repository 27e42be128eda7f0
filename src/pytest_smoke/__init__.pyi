# For type checkers: the package's names are defined in _package.py, which __init__.py runs in
# the package's namespace (see there why).
from pytest_smoke import plugin as plugin
from pytest_smoke._package import *  # noqa: F403
from pytest_smoke._package import __all__ as __all__
from pytest_smoke._package import import_unrewritten as import_unrewritten

__version__: str
