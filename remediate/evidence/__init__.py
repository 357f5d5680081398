"""Evidence from a service's hosts: the hosts and log-source catalog section, one SSH
connection per host (pinned host keys only), bounded and redacted log collection.

Other capabilities reuse its SSH connection (``ssh_connect``); it runs no remediation."""
