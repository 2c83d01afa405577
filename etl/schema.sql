-- The one DDL file of the cockpit. Grain and units are in each table's comment.
-- Applied idempotently by etl.dbfile.ensure_schema(); analysts' guide: docs/SCHEMA.md.

CREATE TABLE IF NOT EXISTS etl_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
COMMENT ON TABLE etl_meta IS 'one row per setting of this database file (schema_version, hot_spots_version, marts_version)';

-- one row per incident reported by a grid worker; latest export wins by report_id
CREATE TABLE IF NOT EXISTS grid_reports (
    report_id            VARCHAR NOT NULL,   -- unique: the ETL upserts by it (no index: 4x faster bulk loads)
    reported_at          TIMESTAMP NOT NULL,
    street               VARCHAR,
    community            VARCHAR NOT NULL,
    grid_id              VARCHAR NOT NULL,
    reporter             VARCHAR,
    category             VARCHAR NOT NULL,
    subcategory          VARCHAR,
    description          VARCHAR,            -- PII (phones, ID numbers) masked at load
    location_text        VARCHAR,            -- PII masked at load
    responsible_party    VARCHAR,
    status               VARCHAR NOT NULL,   -- 待受理 / 处置中 / 已办结 / 已关闭
    resolved_at          TIMESTAMP,
    satisfaction         TINYINT,            -- 1..5
    source_load_id       BIGINT NOT NULL
);

-- one row per governance project
CREATE TABLE IF NOT EXISTS projects (
    project_id           VARCHAR PRIMARY KEY,
    name                 VARCHAR NOT NULL,
    street               VARCHAR,
    community            VARCHAR NOT NULL,
    category             VARCHAR NOT NULL,   -- 养老 / 托育 / 加装电梯 / 环境整治 / 矛盾调解 / 文体 ...
    lead_party           VARCHAR NOT NULL,
    lead_party_type      VARCHAR NOT NULL,   -- 五社: 社区 / 社会组织 / 社会工作者 / 社区志愿者 / 社会慈善资源
    partner_parties      VARCHAR,            -- '、'-separated names
    stage                VARCHAR NOT NULL,   -- 立项 / 审批 / 实施 / 验收 / 结项
    planned_start_on     DATE,
    planned_end_on       DATE,
    actual_start_on      DATE,
    actual_end_on        DATE,
    budget_yuan          DECIMAL(14,2),
    progress_pct         DOUBLE,             -- 0..100
    last_updated_at      TIMESTAMP,
    archived             BOOLEAN NOT NULL DEFAULT FALSE,  -- 建档
    beneficiaries        INTEGER,
    volunteer_count      INTEGER,
    keywords             VARCHAR,            -- free keywords describing the need addressed
    source_load_id       BIGINT NOT NULL
);

-- one row per project milestone
CREATE TABLE IF NOT EXISTS project_milestones (
    project_id           VARCHAR NOT NULL,
    milestone            VARCHAR NOT NULL,
    planned_on           DATE,
    done_on              DATE,
    source_load_id       BIGINT NOT NULL,
    PRIMARY KEY (project_id, milestone)
);

-- one row per ledger entry; amounts in yuan, always positive, direction says which way
CREATE TABLE IF NOT EXISTS fund_transactions (
    txn_id               VARCHAR NOT NULL,   -- unique: the ETL upserts by it
    txn_on               DATE NOT NULL,
    project_id           VARCHAR NOT NULL,
    direction            VARCHAR NOT NULL,   -- in / out
    source_type          VARCHAR,            -- 财政拨款 / 企业社会责任 / 公众小额捐赠 / 慈善信托 / 社区基金 / 商户公益·实物折价 (in only)
    source_name          VARCHAR,            -- who gave (in) or who was paid / re-granted to (out)
    expense_category     VARCHAR,            -- out only: 人员 / 物资 / 场地 / 活动 / 工程 / 转拨 ...
    amount_yuan          DECIMAL(14,2) NOT NULL,
    in_kind              BOOLEAN NOT NULL DEFAULT FALSE,  -- valued in-kind help, not cash
    note                 VARCHAR,
    source_load_id       BIGINT NOT NULL
);

-- one row per resident message
CREATE TABLE IF NOT EXISTS feedback (
    feedback_id          VARCHAR NOT NULL,   -- unique: export's own id (留言编号) or a stable hash
    submitted_at         TIMESTAMP NOT NULL,
    street               VARCHAR,
    community            VARCHAR,
    grid_id              VARCHAR,
    channel              VARCHAR,            -- 微信群 / 公众号 / 民意直通车 / 议事会 / 12345热线 / 网格员走访 ...
    subject              VARCHAR,            -- PII masked
    text                 VARCHAR NOT NULL,   -- PII masked
    rating               TINYINT,            -- 1..5
    likes                INTEGER,
    resident_pseudonym   VARCHAR,            -- salted hash of the resident identifier, never the identifier
    reply                VARCHAR,            -- PII masked
    replied_at           TIMESTAMP,
    source_load_id       BIGINT NOT NULL
);

-- one row per file (or sheet) load attempt that changed something or failed
CREATE TABLE IF NOT EXISTS etl_loads (
    load_id              BIGINT PRIMARY KEY,
    path                 VARCHAR NOT NULL,
    sheet                VARCHAR,
    sha256               VARCHAR NOT NULL,
    source_kind          VARCHAR,            -- grid_reports / projects / project_milestones / fund_transactions / feedback
    encoding             VARCHAR,
    rows_read            BIGINT,
    rows_loaded          BIGINT,
    rows_rejected        BIGINT,
    started_at           TIMESTAMP NOT NULL,
    finished_at          TIMESTAMP,
    seconds              DOUBLE,
    status               VARCHAR NOT NULL,   -- loaded / refused / rolled back
    message              VARCHAR
);

-- who ran each load (data management, issue 12); added to files created before it
ALTER TABLE etl_loads ADD COLUMN IF NOT EXISTS loaded_by VARCHAR;

-- one row per rollback to an earlier kept version of the database file (etl/versions.py)
CREATE TABLE IF NOT EXISTS etl_rollbacks (
    rollback_id          BIGINT PRIMARY KEY,
    rolled_back_at       TIMESTAMP NOT NULL,
    rolled_back_by       VARCHAR,
    before_load_id       BIGINT NOT NULL,    -- the load asked to undo: it and every later load are gone
    restored_load_id     BIGINT,             -- the last load the restored version holds (NULL: none)
    removed_load_ids     BIGINT[] NOT NULL,
    rows_removed         BIGINT NOT NULL,    -- sum of rows_loaded of the removed loads
    version_file         VARCHAR NOT NULL    -- the kept version restored (name in <db>.versions/)
);

-- one row per rejected source record (and column)
CREATE TABLE IF NOT EXISTS etl_rejects (
    load_id              BIGINT NOT NULL,
    path                 VARCHAR NOT NULL,
    row_number           BIGINT NOT NULL,    -- 1-based line in the sheet/CSV, header = row 1
    column_name          VARCHAR,            -- the source header as exported
    reason               VARCHAR NOT NULL,
    original_values      VARCHAR             -- JSON object of the source record
);

-- painpoints: tokens stored once per message so re-clustering never re-segments
CREATE TABLE IF NOT EXISTS feedback_tokens (
    feedback_id          VARCHAR PRIMARY KEY,
    text_hash            VARCHAR NOT NULL,   -- re-segment only when the text changed
    tokens               VARCHAR[] NOT NULL
);

-- one row per (month, scope, rank): the month's top-3 pain points
CREATE TABLE IF NOT EXISTS pain_points (
    month_on             DATE NOT NULL,      -- first day of the month
    scope                VARCHAR NOT NULL,   -- '全街道' or a community name
    rank                 TINYINT NOT NULL,   -- 1..3
    pain_point_id        VARCHAR NOT NULL,   -- stable across months for the same problem
    label                VARCHAR NOT NULL,
    keywords             VARCHAR[] NOT NULL,
    size                 INTEGER NOT NULL,   -- messages in the cluster that month
    share                DOUBLE NOT NULL,    -- size / messages in scope that month
    growth               DOUBLE,             -- size vs previous month, ratio - 1; NULL when new
    heat                 DOUBLE NOT NULL,
    unresolved_share     DOUBLE,
    avg_rating           DOUBLE,
    likes                INTEGER,
    months_in_top3       INTEGER,            -- consecutive months in this scope's top-3 up to this one
    representative_ids   VARCHAR[] NOT NULL,
    representative_texts VARCHAR[] NOT NULL,
    PRIMARY KEY (month_on, scope, rank)
);

-- one row per message per month clustered; pain_point_id NULL for outliers
CREATE TABLE IF NOT EXISTS feedback_pain_points (
    feedback_id          VARCHAR PRIMARY KEY,
    month_on             DATE NOT NULL,
    pain_point_id        VARCHAR
);

-- one row per pain point identity ever seen
CREATE TABLE IF NOT EXISTS pain_point_catalog (
    pain_point_id        VARCHAR PRIMARY KEY,
    label                VARCHAR NOT NULL,
    keywords             VARCHAR[] NOT NULL,
    first_month_on       DATE NOT NULL,
    last_month_on        DATE NOT NULL
);

-- one row per month the pain-point engine clustered: what went in, how k was chosen
CREATE TABLE IF NOT EXISTS pain_point_months (
    month_on             DATE PRIMARY KEY,   -- first day of the month
    input_hash           VARCHAR NOT NULL,   -- messages, texts, ratings, replies, engine version: re-cluster only when it changes
    messages             INTEGER NOT NULL,
    clusters             INTEGER NOT NULL,   -- pain points found (after outliers and tiny clusters)
    k                    INTEGER,            -- k-means k chosen by silhouette; 0 when the month is too small
    silhouette           DOUBLE,             -- silhouette of the chosen k on the month's sample
    outlier_share        DOUBLE              -- share of messages fitting no pain point
);

-- one row per (month, pain point): every cluster of the month, not only the top-3
CREATE TABLE IF NOT EXISTS pain_point_clusters (
    month_on             DATE NOT NULL,
    pain_point_id        VARCHAR NOT NULL,
    label                VARCHAR NOT NULL,
    keywords             VARCHAR[] NOT NULL,  -- most distinctive first (class-based TF-IDF)
    keyword_weights      DOUBLE[] NOT NULL,   -- weight of each keyword: identity matching uses them
    size                 INTEGER NOT NULL,    -- messages in the cluster that month (whole street)
    PRIMARY KEY (month_on, pain_point_id)
);

-- painpoints: places named in each message (etl/painpoints/places.py), once per message and text
CREATE TABLE IF NOT EXISTS feedback_places (
    feedback_id          VARCHAR PRIMARY KEY,
    text_hash            VARCHAR NOT NULL,   -- re-extract only when the text or the extractor changed
    mentions             VARCHAR[] NOT NULL, -- as written (伊景园·滨河苑 -> 伊景园滨河苑, 滨河苑)
    places               VARCHAR[] NOT NULL  -- canonical names, aliases learnt over all messages
);

-- one row per (month, scope, rank): the month's hot spots, (place, pain point) pairs ranked by burst
CREATE TABLE IF NOT EXISTS hot_spots (
    month_on             DATE NOT NULL,      -- first day of the month
    scope                VARCHAR NOT NULL,   -- '全街道' or a community name
    rank                 TINYINT NOT NULL,   -- 1..10
    place                VARCHAR NOT NULL,   -- canonical place name (estate, building, road, village)
    pain_point_id        VARCHAR NOT NULL,
    label                VARCHAR NOT NULL,   -- the pain point's label that month
    size                 INTEGER NOT NULL,   -- messages of the pain point naming the place, in scope, that month
    baseline             DOUBLE NOT NULL,    -- mean monthly size over the previous 3 months (0 when absent)
    growth               DOUBLE,             -- size / baseline - 1; NULL when the baseline is 0
    share                DOUBLE NOT NULL,    -- size / messages of the pain point in scope that month
    burst                DOUBLE NOT NULL,    -- the ranking score (docs/PAINPOINTS.md#hot-spots)
    likes                INTEGER NOT NULL,
    unreplied_share      DOUBLE NOT NULL,
    representative_ids   VARCHAR[] NOT NULL,
    representative_texts VARCHAR[] NOT NULL,
    PRIMARY KEY (month_on, scope, rank)
);
-- pain-point summaries (etl/painpoints/summaries.py): counts the pain-point page reads instead of
-- every message, rebuilt whole by every pain-point run that writes; exact while no feedback was
-- loaded since (pain_point_summaries.built_at_load), the page reads the messages otherwise
CREATE TABLE IF NOT EXISTS pain_point_summaries (
    built_at_load        BIGINT NOT NULL     -- max(feedback.source_load_id) the summaries were built from; 0 = none
);

-- one row per (month, day, street, community, grid, pain point): messages submitted that day
CREATE TABLE IF NOT EXISTS pain_point_daily (
    month_on             DATE NOT NULL,
    day_on               DATE NOT NULL,
    street               VARCHAR,
    community            VARCHAR,
    grid_id              VARCHAR,
    pain_point_id        VARCHAR NOT NULL,
    messages             BIGINT NOT NULL
);

-- one row per (month, pain point, street, community, grid, place): the pain point's messages naming the place
CREATE TABLE IF NOT EXISTS pain_point_places (
    month_on             DATE NOT NULL,
    pain_point_id        VARCHAR NOT NULL,
    street               VARCHAR,
    community            VARCHAR,
    grid_id              VARCHAR,
    place                VARCHAR,
    messages             BIGINT NOT NULL
);

-- one row per (month, pain point, street, community, grid, keyword): the pain point's messages using the keyword
CREATE TABLE IF NOT EXISTS pain_point_keywords (
    month_on             DATE NOT NULL,
    pain_point_id        VARCHAR NOT NULL,
    street               VARCHAR,
    community            VARCHAR,
    grid_id              VARCHAR,
    keyword              VARCHAR NOT NULL,
    messages             BIGINT NOT NULL
);
-- ---- deliberation and participation (issue 15) ------------------------------------------

-- one row per community: the reference sizes that turn counts into rates per 1,000 households
CREATE TABLE IF NOT EXISTS communities (
    community            VARCHAR PRIMARY KEY,
    street               VARCHAR,
    households           INTEGER NOT NULL,   -- 户数
    residents            INTEGER,            -- 常住人口
    grids                INTEGER,            -- number of grids
    source_load_id       BIGINT NOT NULL
);

-- one row per meeting (居民议事会 / 联席会议 / 听证会 ...)
CREATE TABLE IF NOT EXISTS meetings (
    meeting_id           VARCHAR PRIMARY KEY,
    held_on              DATE NOT NULL,
    street               VARCHAR,
    community            VARCHAR NOT NULL,
    kind                 VARCHAR NOT NULL,   -- 居民议事会 / 联席会议 / 听证会 / 协调会 ...
    topic                VARCHAR,            -- PII masked
    convener             VARCHAR,
    attendees            INTEGER,
    parties              VARCHAR,            -- '、'-separated 'name(type)', e.g. 清河一社区党委(社区党委)
    source_load_id       BIGINT NOT NULL
);

-- one row per resolution adopted at a meeting
CREATE TABLE IF NOT EXISTS resolutions (
    resolution_id        VARCHAR PRIMARY KEY,
    meeting_id           VARCHAR NOT NULL,   -- a meeting in `meetings` (others are rejected)
    community            VARCHAR NOT NULL,   -- the meeting's community when the export has none
    text                 VARCHAR NOT NULL,   -- PII masked
    responsible_party    VARCHAR,
    due_on               DATE,
    status               VARCHAR NOT NULL,   -- 待执行 / 执行中 / 已完成 / 搁置
    disclosed_on         DATE,               -- 公示: when its execution was publicly disclosed
    source_load_id       BIGINT NOT NULL
);

-- one row per resident vote (议事投票)
CREATE TABLE IF NOT EXISTS votes (
    vote_id              VARCHAR PRIMARY KEY,
    street               VARCHAR,
    community            VARCHAR NOT NULL,
    topic                VARCHAR NOT NULL,
    opened_on            DATE,
    closed_on            DATE NOT NULL,
    eligible_voters      INTEGER NOT NULL,
    ballots_cast         INTEGER NOT NULL,   -- never above eligible_voters
    yes_votes            INTEGER NOT NULL,   -- yes + no + abstain never above ballots_cast
    no_votes             INTEGER NOT NULL,
    abstain_votes        INTEGER,
    source_load_id       BIGINT NOT NULL
);

-- one row per resident task (one participation in an activity)
CREATE TABLE IF NOT EXISTS participation (
    record_id            VARCHAR PRIMARY KEY,   -- the export's id or a stable hash
    resident_pseudonym   VARCHAR NOT NULL,      -- salted hash, never the identifier
    street               VARCHAR,
    community            VARCHAR NOT NULL,
    activity             VARCHAR NOT NULL,      -- 议事会 / 组织活动 / 调解矛盾 / 志愿服务 / 设施巡查 ...
    occurred_on          DATE NOT NULL,
    hours                DOUBLE,
    project_id           VARCHAR,               -- optional: a project in `projects`
    age_band             VARCHAR,               -- optional: 18-34 / 35-49 / 50-64 / 65+
    source_load_id       BIGINT NOT NULL
);

-- one row per points redemption (积分兑换)
CREATE TABLE IF NOT EXISTS redemptions (
    redemption_id        VARCHAR PRIMARY KEY,   -- the export's id or a stable hash
    resident_pseudonym   VARCHAR NOT NULL,
    community            VARCHAR,
    redeemed_on          DATE NOT NULL,
    item                 VARCHAR NOT NULL,
    points               INTEGER NOT NULL,      -- never above the resident's balance at the time
    source_load_id       BIGINT NOT NULL
);

-- one row per resident evaluation of a project
CREATE TABLE IF NOT EXISTS evaluations (
    evaluation_id        VARCHAR PRIMARY KEY,   -- the export's id or a stable hash
    project_id           VARCHAR NOT NULL,      -- a project in `projects`
    submitted_at         TIMESTAMP NOT NULL,
    rating               TINYINT NOT NULL,      -- 1..5
    comment              VARCHAR,               -- PII masked
    resident_pseudonym   VARCHAR,
    source_load_id       BIGINT NOT NULL
);

-- one row per resident rating of the platform itself (ease of use, issue 15)
CREATE TABLE IF NOT EXISTS usability_ratings (
    rating_id            VARCHAR PRIMARY KEY,   -- the export's id or a stable hash
    submitted_at         TIMESTAMP NOT NULL,
    street               VARCHAR,
    community            VARCHAR NOT NULL,
    channel              VARCHAR,               -- 小程序 / 公众号 / 热线 ... (as exported, masked)
    ease_score           TINYINT NOT NULL,      -- 1..5; outside 1..5 rejected at load
    comment              VARCHAR,               -- PII masked
    resident_pseudonym   VARCHAR,               -- salted hash, never the identifier
    source_load_id       BIGINT NOT NULL
);

-- one row per participation rule, seeded from etl/rules.toml on every ETL run
CREATE TABLE IF NOT EXISTS participation_rules (
    rule                 VARCHAR PRIMARY KEY,   -- 'votes.valid_share', 'evaluations.min_ratings' ...
    value                DOUBLE,                -- numeric rules
    names                VARCHAR[]              -- rules that are names (kinds, party types, bands)
);

-- one row per activity that earns points, seeded from etl/rules.toml [points]
CREATE TABLE IF NOT EXISTS points_rules (
    activity             VARCHAR PRIMARY KEY,
    points               INTEGER NOT NULL
);

-- one row per vote with its participation, validity and result: the 30% rule defined once
CREATE OR REPLACE VIEW vote_results AS
SELECT v.vote_id, v.street, v.community, v.topic, v.opened_on, v.closed_on,
       v.eligible_voters, v.ballots_cast, v.yes_votes, v.no_votes, v.abstain_votes,
       v.ballots_cast / NULLIF(v.eligible_voters, 0) AS participation_share,
       r.valid_share,
       COALESCE(v.ballots_cast >= r.valid_share * v.eligible_voters AND v.eligible_voters > 0, FALSE) AS valid,
       COALESCE(v.ballots_cast >= r.valid_share * v.eligible_voters AND v.eligible_voters > 0
                AND v.yes_votes > r.pass_share * v.ballots_cast, FALSE) AS passed
FROM votes v
CROSS JOIN (SELECT max(value) FILTER (WHERE rule = 'votes.valid_share') AS valid_share,
                   max(value) FILTER (WHERE rule = 'votes.pass_share') AS pass_share
            FROM participation_rules) r;

-- one row per participation record with the points it earns (0 for activities without a rule)
CREATE OR REPLACE VIEW participation_points AS
SELECT p.*, COALESCE(r.points, 0) AS points
FROM participation p LEFT JOIN points_rules r USING (activity);
