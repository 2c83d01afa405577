-- fund_flows: one row per ledger entry as an edge of the money graph, source -> project
-- (direction 'in') or project -> expense category ('out'); amounts in yuan, in-kind marked.
-- materialized: view
with ledger as (
    select * from fund_transactions
), project_names as (
    select project_id, name, street, community, category from projects
), government as (
    select code from named_codes where kind = 'government_source'
), charity as (
    select code from named_codes where kind = 'charity_source'
), final as (
    select t.txn_id, t.txn_on, t.direction, t.project_id, p.name as project_name, p.street,
           p.community, p.category as project_category,
           t.source_type, t.source_name, t.expense_category,
           case when t.direction = 'in' then 'source' else 'project' end as from_kind,
           case when t.direction = 'in' then coalesce(t.source_name, t.source_type)
                else t.project_id end as from_node,
           case when t.direction = 'in' then 'project' else 'expense' end as to_kind,
           case when t.direction = 'in' then t.project_id
                else t.expense_category end as to_node,
           t.amount_yuan, t.in_kind,
           (t.direction = 'in' and t.source_type in (select code from government)) as government,
           (t.direction = 'in' and t.source_type in (select code from charity)) as charity
    from ledger t
    join project_names p using (project_id)
)
select * from final
