"""Sub-commands of the ``scnn-sim`` CLI; each module has ``register(subparsers)``."""
