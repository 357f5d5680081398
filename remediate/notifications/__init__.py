"""Telling people what a run did, on the channels they read: Slack (with Approve / Reject
buttons on a fix or an action waiting for approval), Telegram, Mattermost, Microsoft
Teams, Discord, a generic JSON webhook or any saved Prefect notification block.

Every text is redacted, escaped for the channel's markup and has its @-mentions defused;
a channel that fails is reported, never allowed to stop the run."""
