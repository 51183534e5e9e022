-- 0012 community date order (SQLite): down.
ALTER TABLE communities DROP COLUMN date_order;
