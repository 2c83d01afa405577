-- grid_cases: one row per grid report with its SLA deadline and resolution measures; hours.
-- materialized: view
with reports as (
    select * from grid_reports
), rules as (
    select category, hours from sla_rules where category <> '*'
), default_rule as (
    select hours from sla_rules where category = '*'
), closed_statuses as (
    select code as status from named_codes where kind = 'closed_status'
), ruled as (
    select r.*,
           coalesce(rules.hours, (select hours from default_rule)) as sla_hours,
           (r.resolved_at is null and r.status in (select status from closed_statuses))
               as closed_without_time
    from reports r
    left join rules using (category)
), final as (
    select report_id, reported_at, reported_at::DATE as reported_on, street, community, grid_id,
           category, subcategory, responsible_party, status, resolved_at, satisfaction,
           sla_hours,
           reported_at + sla_hours * INTERVAL 1 HOUR as deadline_at,
           (resolved_at is not null or closed_without_time) as closed,
           closed_without_time,
           date_diff('second', reported_at, resolved_at) / 3600.0 as hours_to_resolve,
           (resolved_at <= reported_at + sla_hours * INTERVAL 1 HOUR) as on_time
    from ruled
)
select * from final
