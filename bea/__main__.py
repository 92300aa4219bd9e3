"""``python -m bea`` runs the command line, exactly as the ``bea`` script does."""
import sys

from .cli import main

if __name__ == "__main__":  # importing the module (pkgutil.walk_packages, docs tools) must not run it
    sys.exit(main())
