-- The rules file's settings the money reports read, one row: a view cannot hold a bound parameter,
-- so the report stage binds them here ($won_not_invoiced_days: money.won_not_invoiced_days, 14).
select $won_not_invoiced_days::integer as won_not_invoiced_days
