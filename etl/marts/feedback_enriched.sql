-- feedback_enriched: one row per resident message with the pain point it was clustered into.
-- materialized: view
with messages as (
    select * from feedback
), assigned as (
    select feedback_id, month_on, pain_point_id from feedback_pain_points
), clusters as (
    select month_on, pain_point_id, label, keywords from pain_point_clusters
), final as (
    select m.feedback_id, m.submitted_at, m.submitted_at::DATE as submitted_on,
           date_trunc('month', m.submitted_at)::DATE as month_on,
           m.street, m.community, m.grid_id, m.channel, m.subject, m.text, m.rating, m.likes,
           (m.reply is not null or m.replied_at is not null) as replied, m.replied_at,
           (a.feedback_id is not null) as clustered,
           a.pain_point_id,
           (a.feedback_id is not null and a.pain_point_id is null) as outlier,
           c.label as pain_point_label,
           c.keywords as pain_point_keywords
    from messages m
    left join assigned a using (feedback_id)
    left join clusters c on c.month_on = a.month_on and c.pain_point_id = a.pain_point_id
)
select * from final
