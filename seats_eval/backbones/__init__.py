"""What the code knows about a backbone: its YAML config (config.py), the token budgets and
TRR schedule computed from it (budgets.py), and the boundaries a layer-removal probe
suggests for a new one (calibrate.py). Depends on nothing else in the package but errors
and io, so every other folder may import it."""
