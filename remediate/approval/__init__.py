"""The approval gate's parts shared by fixes, runbook actions, rollbacks and capacity
actions: the approver catalog section, the typed Prefect input form, ``remediate approve``
and notifications to approvers.

Does not suspend runs: the suspension loop is ``flows/stages/approval.py``."""
