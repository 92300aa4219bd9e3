"""``python -m bea`` runs the command line, exactly as the ``bea`` script does."""
import sys

from .cli import main

sys.exit(main())
