"""``python -m bea`` runs the command line, exactly as the ``bea`` script does."""
import sys

from .cli import main

if __name__ == "__main__":  # importing the module (e.g. to list bea's modules) runs nothing
    sys.exit(main())
