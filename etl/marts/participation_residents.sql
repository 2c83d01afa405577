-- participation_residents: one row per (community, resident) with every day the resident did a
-- task there, so the concentration of tasks (top-10% share, Gini) of any period reads one row per
-- resident instead of grouping every participation record (751k rows for 6.8M records at 10M
-- reports). task_days is sorted and keeps repeats: len(task_days) = tasks = records.
-- materialized: table by resident from participation (etl/marts/residents.py: whole, or by month)
with records as (
    select community, resident_pseudonym, occurred_on from participation /* months */
), final as (
    select community, resident_pseudonym,
           min(occurred_on) as first_on, max(occurred_on) as last_on,
           count(*)::BIGINT as tasks,
           list(occurred_on order by occurred_on) as task_days
    from records
    group by community, resident_pseudonym
)
select * from final
