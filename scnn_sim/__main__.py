"""``python -m scnn_sim``: the ``scnn-sim`` command line."""

import sys

from scnn_sim.cli import main

if __name__ == "__main__":  # not when a spawned sweep worker re-imports this module
    sys.exit(main())
