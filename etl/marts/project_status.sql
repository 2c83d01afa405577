-- project_status(as_of, date_from := NULL): one row per project measured at the day as_of;
-- percentages 0..100, amounts in yuan. date_from (start of the period) only decides in_view.
-- materialized: macro project_status(as_of, date_from := NULL)
with bounds as (
    select cast(as_of as DATE) as as_of_on, cast(date_from as DATE) as period_from_on
), stages as (
    select kind, code from named_codes where kind in ('pipeline_stage', 'finished_stage')
), thresholds as (
    select max(threshold) filter (where rule = 'behind_schedule') as behind_points,
           max(threshold) filter (where rule = 'stalled') as stalled_days,
           max(threshold) filter (where rule = 'spending_ahead') as ahead_points
    from warning_rules
), money as (
    -- the ledger's entries up to as_of, summed from fund_daily (the ledger summed by day at
    -- load time, in the catalog) instead of every entry in the ledger's Parquet parts: the same
    -- exact sums (DECIMAL yuan); an entry of a project not in projects counts in neither
    select t.project_id,
           sum(t.amount_yuan) filter (where t.direction = 'out')::DOUBLE as spent_yuan,
           sum(t.amount_yuan) filter (where t.direction = 'in')::DOUBLE as received_yuan
    from fund_daily t, bounds b
    where t.day_on <= b.as_of_on
    group by t.project_id
), milestones as (
    select m.project_id, count(*) as milestones,
           count(*) filter (where m.planned_on < b.as_of_on
                            and (m.done_on is null or m.done_on > b.as_of_on)) as overdue_milestones
    from project_milestones m, bounds b
    group by m.project_id
), measured as (
    select p.project_id, p.name, p.street, p.community, p.category, p.lead_party,
           p.lead_party_type, p.partner_parties, p.stage, p.planned_start_on, p.planned_end_on,
           p.actual_start_on, p.actual_end_on, p.budget_yuan::DOUBLE as budget_yuan,
           p.progress_pct, p.last_updated_at, p.archived, p.volunteer_count, p.beneficiaries,
           b.as_of_on, b.period_from_on,
           coalesce(p.actual_start_on, p.planned_start_on) as started_on,
           (started_on is not null and started_on <= b.as_of_on) as active,
           ((started_on is null or started_on <= b.as_of_on
             or p.stage in (select code from stages where kind = 'pipeline_stage'))
            and (b.period_from_on is null or p.actual_end_on is null
                 or p.actual_end_on >= b.period_from_on)) as in_view,
           case when p.planned_start_on is null or p.planned_end_on is null then null
                else greatest(0.0, least(100.0, 100.0 * date_diff('day', p.planned_start_on, b.as_of_on)
                     / greatest(1, date_diff('day', p.planned_start_on, p.planned_end_on))))
           end as elapsed_pct,
           date_diff('day', p.last_updated_at::DATE, b.as_of_on) as days_since_update,
           coalesce(money.spent_yuan, 0) as spent_yuan,
           coalesce(money.received_yuan, 0) as received_yuan,
           coalesce(milestones.milestones, 0) as milestones,
           coalesce(milestones.overdue_milestones, 0) as overdue_milestones
    from projects p
    cross join bounds b
    left join money using (project_id)
    left join milestones using (project_id)
), gaps as (
    select *,
           (active and stage not in (select code from stages where kind = 'finished_stage'))
               as running,
           progress_pct - elapsed_pct as deviation_pts,
           case when budget_yuan > 0 then 100.0 * spent_yuan / budget_yuan end as spent_pct,
           elapsed_pct - progress_pct as schedule_gap_pts
    from measured
), final as (
    select g.*,
           g.spent_pct - g.progress_pct as spend_gap_pts,
           spent_yuan - budget_yuan as overrun_yuan,
           (g.running and coalesce(g.schedule_gap_pts > th.behind_points, false))
               as warn_behind_schedule,
           (g.running and g.overdue_milestones > 0) as warn_overdue_milestones,
           (g.running and coalesce(g.days_since_update > th.stalled_days, false)) as warn_stalled,
           (g.running and coalesce(g.spent_pct - g.progress_pct > th.ahead_points, false))
               as warn_spending_ahead,
           coalesce(g.budget_yuan > 0 and g.spent_yuan - g.budget_yuan > 0, false)
               as warn_over_budget
    from gaps g cross join thresholds th
)
select * from final
