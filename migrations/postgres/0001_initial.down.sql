-- 0001 initial schema (PostgreSQL): down.
DROP TABLE scheduler_replicas;
DROP TABLE audit_log;
DROP TABLE api_keys;
DROP TABLE workflow_executions;
DROP TABLE workflows;
DROP TABLE workflow_schedule_runs;
DROP TABLE workflow_schedules;
