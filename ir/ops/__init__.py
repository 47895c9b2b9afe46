"""Built-in op families, a module each. Importing this package declares every built-in op.

Every module in this folder whose name does not start with '_' is imported, in sorted order.
"""

import importlib
import pkgutil

for _m in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_m}")
