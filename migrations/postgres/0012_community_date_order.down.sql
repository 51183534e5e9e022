-- 0012 community date order (PostgreSQL): down.
ALTER TABLE communities DROP COLUMN date_order;
