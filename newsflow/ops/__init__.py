"""The operator-facing top of newsflow: the `newsflow` command, the demo, status and dead-letter tools.

The only code that imports several stages; the kernel (the rest of `newsflow`) and the stages
never import it.
"""
