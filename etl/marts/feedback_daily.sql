-- feedback_daily: daily resident-message counts per community, grid and channel, maintained at
-- load time so the feedback KPIs read a summary instead of every message (and its pain point).
-- One row per (month_on, day_on, street, community, grid_id, channel): counts of messages.
-- Average rating over a period = sum(rating_sum) / sum(rated). month_on is the month the
-- messages were submitted in: a load that changes messages of a month rebuilds that month's rows.
-- materialized: table by month_on from feedback
with messages as (
    select * from feedback /* months */
), final as (
    select date_trunc('month', submitted_at)::DATE as month_on, submitted_at::DATE as day_on,
           street, community, grid_id, channel,
           count(*) as messages,
           count(rating) as rated,
           coalesce(sum(rating), 0)::BIGINT as rating_sum,
           count(*) filter (where reply is not null or replied_at is not null) as replied
    from messages
    group by all
)
select * from final
