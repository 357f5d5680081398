"""Blue-green switch: the catalog section, the live color read (SSH or HTTP) and parsed
strictly, the switch window, the switch action with switching back as its undo, and text.

The switch runs as a runbook action through ``flows/stages/blue_green.py``."""
