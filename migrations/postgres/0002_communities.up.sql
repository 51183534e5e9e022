-- 0002 communities (PostgreSQL): a community's default time zone and the chat users who manage its schedules.
CREATE TABLE communities (
    id BIGSERIAL PRIMARY KEY,
    community_id VARCHAR(100) NOT NULL UNIQUE,
    timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    managers JSONB NOT NULL DEFAULT '[]',
    updated_by VARCHAR(200) NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL
);
