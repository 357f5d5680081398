"""Process-wide settings, read from ``REMEDIATE_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from remediate.runs.links import artifact_link, flow_run_link


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REMEDIATE_", extra="ignore")

    data_dir: Path = Path(".remediate")
    ui_url: str | None = None
    issues_url: str | None = None
    """Where the gateway serves the local tracker's issues (``<gateway>/issues``); issue
    links are ``file://`` paths without it."""
    outbox_url: str | None = None

    def prefect_ui_url(self) -> str | None:
        if self.ui_url:
            return self.ui_url.rstrip("/")
        api = os.environ.get("PREFECT_UI_URL") or os.environ.get("PREFECT_API_URL")
        if not api:
            return None
        api = api.rstrip("/")
        return api[: -len("/api")] if api.endswith("/api") else api

    def flow_run_url(self, flow_run_id: str) -> str | None:
        base = self.prefect_ui_url()
        return flow_run_link(base, flow_run_id) if base else None

    def artifact_url(self, artifact_id: str) -> str | None:
        base = self.prefect_ui_url()
        return artifact_link(base, artifact_id) if base else None


def get_settings() -> Settings:
    return Settings()
