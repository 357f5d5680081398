"""Runbook actions: the catalog section, parameter checks, running a command over SSH or
one HTTP call, bounded output and the text shown on the issue and in the approval form.

Does not decide when an action runs, wait for approval or undo: that is the action stage
in ``flows/stages/actions.py``, with the undo hook in ``tasks/actions.py``."""
