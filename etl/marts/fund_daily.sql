-- fund_daily: daily ledger totals per project, source and expense category, maintained at load
-- time so the funds page reads a summary in the catalog instead of every ledger entry (monthly
-- Parquet parts) joined with its project. One row per (month_on, day_on, project_id,
-- direction, source_type, source_name, expense_category, in_kind), with the project's street,
-- community, name and category and the government flag of fund_flows; entries = ledger
-- entries, amount_yuan = their sum in yuan (exact). source_name is kept for inflows only (the
-- giver); an outflow's payee is not part of the grain. month_on is the month of txn_on: a load
-- that changes entries of a month rebuilds that month's rows; a change of a project's name,
-- street, community or category rebuilds the whole table (etl/marts LOOKUPS).
-- materialized: table by month_on from fund_transactions
with ledger as (
    select * from fund_transactions /* months */
), project_names as (
    select project_id, name, street, community, category from projects
), government as (
    select code from named_codes where kind = 'government_source'
), final as (
    select date_trunc('month', t.txn_on)::DATE as month_on, t.txn_on as day_on,
           p.street, p.community, t.project_id, p.name as project_name,
           p.category as project_category, t.direction, t.source_type,
           case when t.direction = 'in' then t.source_name end as source_name,
           t.expense_category, t.in_kind,
           (t.direction = 'in' and t.source_type in (select code from government)) as government,
           count(*) as entries,
           sum(t.amount_yuan) as amount_yuan
    from ledger t
    join project_names p using (project_id)
    group by all
)
select * from final
