-- grid_cases_at(as_of): grid_cases measured at the end of the day as_of (a DATE); one row per report.
-- materialized: macro grid_cases_at(as_of)
with bounds as (
    select cast(as_of as DATE) as as_of_on,
           (cast(as_of as DATE) + 1)::TIMESTAMP as as_of_end_at
), cases as (
    select * from grid_cases
), measured as (
    select c.*, b.as_of_on, b.as_of_end_at,
           (c.reported_at < b.as_of_end_at) as reported_by_as_of,
           coalesce(c.resolved_at < b.as_of_end_at, false) as resolved_by_as_of,
           (c.deadline_at <= b.as_of_end_at) as deadline_passed
    from cases c cross join bounds b
), final as (
    select *,
           (reported_by_as_of and not resolved_by_as_of and not closed_without_time)
               as open_at_as_of,
           (resolved_by_as_of or deadline_passed or closed_without_time) as sla_due,
           (resolved_by_as_of and resolved_at <= deadline_at) as sla_met,
           date_diff('second', reported_at, as_of_end_at) / 86400.0 as age_days
    from measured
)
select * from final
