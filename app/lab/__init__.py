"""The lab: contributors, machines, readers, sessions and runs."""

# Importing the rollups registers their upkeep on every ORM flush, wherever runs change.
from app.lab import rollups as rollups
