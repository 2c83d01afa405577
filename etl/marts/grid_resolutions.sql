-- grid_resolutions: one row per grid report resolved with a time; hours from report to
-- resolution, without the SLA rules (grid_cases' hours_to_resolve, the same expression), so the
-- median resolution time reads two timestamps per report and joins nothing.
-- materialized: view
with reports as (
    select * from grid_reports
), final as (
    select report_id, reported_at, reported_at::DATE as reported_on, street, community, grid_id,
           category, resolved_at,
           date_diff('second', reported_at, resolved_at) / 3600.0 as hours_to_resolve
    from reports
    where resolved_at is not null
)
select * from final
