"""``remediate gateway``: run the intake gateway with uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from remediate.catalog import Catalog, CatalogError, catalog_path, load_catalog
from remediate.gateway.app import create_app
from remediate.gateway.config import GatewayConfig

log = logging.getLogger("remediate.gateway")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remediate gateway",
        description=(
            "Serve the alert intake gateway. Secrets come from REMEDIATE_HMAC_SECRETS and "
            "REMEDIATE_INGEST_TOKENS (comma-separated, or scoped entries"
            " name:secret@source,.../service,... separated by ';'; see docs/gateway.md), and"
            " each product's own from REMEDIATE_PAGERDUTY_SECRETS, REMEDIATE_SENTRY_SECRETS,"
            " REMEDIATE_DATADOG_TOKENS and REMEDIATE_OPSGENIE_TOKENS (docs/sources.md);"
            " Prefect from PREFECT_API_URL, with the credential PREFECT_API_AUTH_STRING"
            " (user:password) when the API asks for one."
        ),
    )
    parser.add_argument("--host", default=os.environ.get("REMEDIATE_GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("REMEDIATE_GATEWAY_PORT", "8780"))
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="default REMEDIATE_DATA_DIR")
    parser.add_argument("--prefect-api-url", default=None, help="default PREFECT_API_URL")
    parser.add_argument("--catalog", type=Path, default=None, help="default REMEDIATE_CATALOG")
    parser.add_argument("--log-level", default="info")
    return parser


def _catalog(path: Path | None) -> Catalog:
    file = catalog_path(path)
    if path is None and not file.exists():
        log.warning("no catalog at %s; alerts are not attributed to services", file)
        return Catalog()
    return load_catalog(file)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides: dict[str, object] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.prefect_api_url:
        overrides["prefect_api_url"] = args.prefect_api_url
    try:
        config = GatewayConfig.from_env(overrides=overrides)
        catalog = _catalog(args.catalog)
    except (CatalogError, ValueError) as exc:
        print(f"remediate gateway: {exc}", file=sys.stderr)
        return 2
    if not config.hmac_secrets and not config.ingest_tokens and not config.has_source_credentials:
        print(
            "remediate gateway: set REMEDIATE_HMAC_SECRETS and/or REMEDIATE_INGEST_TOKENS,"
            " or a product's secrets or tokens (docs/sources.md)",
            file=sys.stderr,
        )
        return 2
    app = create_app(config, catalog)
    app.state.gateway.freeze_gc = True
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        access_log=False,
        server_header=False,
        # X-Forwarded-For is believed only from REMEDIATE_TRUSTED_PROXIES: by default from
        # none, so no local process can pose as another address to the allow-list.
        proxy_headers=bool(config.trusted_proxies),
        forwarded_allow_ips=list(config.trusted_proxies) or None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
