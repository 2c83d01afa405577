-- grid_resolution_monthly: resolved grid cases per month, community and category, counted by how
-- long they took, in buckets of a factor 2^(1/8) (resolution_bucket(hours): bucket 0 = up to a
-- minute, then about 9% wider each). One row per (month_on, street, community, category,
-- bucket); `resolved` = cases. Not a median of its own: the overview reads it to find which
-- buckets hold the median of a long period, then takes the exact median from grid_resolutions
-- reading only the durations in those buckets (dashboard/queries/overview.py).
-- materialized: table by month_on from grid_reports
with cases as (
    select * from grid_resolutions /* months */
), final as (
    select date_trunc('month', reported_at)::DATE as month_on, street, community, category,
           resolution_bucket(hours_to_resolve) as bucket,
           count(*) as resolved
    from cases
    group by all
)
select * from final
