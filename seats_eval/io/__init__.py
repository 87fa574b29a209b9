"""Files: where resources are (resources), run ids and output folders (runs), atomic replacement (atomic)."""
