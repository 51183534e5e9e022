-- 0012 community date order (PostgreSQL): how chat reads a date like 01/02 here: 'dmy' (1 February),
-- 'mdy' (January 2), or NULL (the default of the community's time zone).
ALTER TABLE communities ADD COLUMN date_order VARCHAR(3);
