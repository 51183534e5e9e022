-- 0013 alerts (SQLite): a schedule's alert setting and what its alerts remember, and the outbox of
-- alert deliveries, one row per alert and channel, written in the transaction that decided it.
ALTER TABLE workflow_schedules ADD COLUMN alerts TEXT;
ALTER TABLE workflow_schedules ADD COLUMN alert_state TEXT;
CREATE TABLE schedule_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id CHAR(36) NOT NULL,
    schedule_id CHAR(36) NOT NULL,
    community_id VARCHAR(100),
    event VARCHAR(16) NOT NULL,
    channel VARCHAR(16) NOT NULL CHECK (channel IN ('chat', 'webhook', 'operator')),
    target VARCHAR(2100) NOT NULL,
    payload TEXT NOT NULL,
    status VARCHAR(16) NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    digest_size INTEGER,
    claimed_by VARCHAR(64),
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX ix_alerts_due ON schedule_alerts (status, next_attempt_at);
CREATE INDEX ix_alerts_schedule ON schedule_alerts (schedule_id, id);
CREATE INDEX ix_alerts_community ON schedule_alerts (community_id, id);
CREATE INDEX ix_alerts_target ON schedule_alerts (target, sent_at);
