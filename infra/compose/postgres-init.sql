-- The gateways' shared outbox lives in its own database beside Prefect's.
CREATE DATABASE remediate_outbox OWNER remediate;
