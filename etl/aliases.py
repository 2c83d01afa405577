"""The one header-alias table: every export header an office uses -> a canonical column.

Chinese lives here (and in display labels), nowhere else in the ETL. A header is matched
after normalisation (see `normalise_header`): case, spaces, full-width brackets and a
trailing unit such as "(元)" do not matter.
"""
from __future__ import annotations

import re
import unicodedata

# kind -> canonical column -> aliases (canonical English name is always an alias too)
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "grid_reports": {
        "report_id": ("事件编号", "工单编号", "案件编号", "上报编号", "编号", "id"),
        "reported_at": ("上报时间", "事件上报时间", "发现时间", "登记时间", "report_time"),
        "street": ("街道", "所属街道", "street_name"),
        "community": ("社区", "所属社区", "社区名称", "community_name"),
        "grid_id": ("网格", "网格编号", "所属网格", "网格号", "grid"),
        "reporter": ("网格员", "上报人", "上报网格员", "reporter_name"),
        "category": ("事件类型", "事件大类", "问题类型", "类别", "大类", "type"),
        "subcategory": ("事件小类", "问题小类", "小类", "细类", "subtype"),
        "description": ("事件描述", "问题描述", "情况描述", "描述", "desc"),
        "location_text": ("事发地点", "地点", "位置", "详细地址", "location", "address"),
        "responsible_party": ("责任单位", "责任主体", "处置单位", "承办单位", "responsible"),
        "status": ("处置状态", "办理状态", "状态", "当前状态", "state"),
        "resolved_at": ("办结时间", "处置完成时间", "结案时间", "完成时间", "closed_at"),
        "satisfaction": ("满意度", "居民满意度", "评价", "satisfaction_score"),
    },
    "projects": {
        "project_id": ("项目编号", "项目id", "项目代码"),
        "name": ("项目名称", "名称", "project_name"),
        "street": ("街道", "所属街道"),
        "community": ("社区", "所属社区", "实施社区", "服务社区"),
        "category": ("项目类别", "项目类型", "服务领域", "领域"),
        "lead_party": ("牵头方", "牵头单位", "实施主体", "承接主体", "lead"),
        "lead_party_type": ("牵头方类型", "主体类型", "五社类型", "lead_type"),
        "partner_parties": ("合作方", "协作单位", "联动主体", "partners"),
        "stage": ("项目阶段", "阶段", "当前阶段", "phase"),
        "planned_start_on": ("计划开始", "计划开始日期", "计划开工", "planned_start"),
        "planned_end_on": ("计划结束", "计划完成日期", "计划结束日期", "planned_end"),
        "actual_start_on": ("实际开始", "实际开始日期", "actual_start"),
        "actual_end_on": ("实际结束", "实际完成日期", "actual_end"),
        "budget_yuan": ("预算", "预算金额", "预算(元)", "项目预算", "budget"),
        "progress_pct": ("进度", "完成进度", "进度(%)", "progress"),
        "last_updated_at": ("更新时间", "最后更新", "最近更新时间", "updated_at"),
        "archived": ("是否建档", "建档", "已建档", "archived_flag"),
        "beneficiaries": ("受益人数", "服务人次", "受益人次"),
        "volunteer_count": ("志愿者人数", "志愿者数", "volunteers"),
        "keywords": ("关键词", "需求关键词", "tags"),
    },
    "project_milestones": {
        "project_id": ("项目编号", "项目id", "项目代码"),
        "milestone": ("里程碑", "节点", "里程碑名称", "节点名称"),
        "planned_on": ("计划日期", "计划完成日期", "计划时间", "planned_date"),
        "done_on": ("完成日期", "实际完成日期", "完成时间", "done_date"),
    },
    "fund_transactions": {
        "txn_id": ("流水号", "交易编号", "凭证号", "transaction_id"),
        "txn_on": ("日期", "交易日期", "记账日期", "到账日期", "date"),
        "project_id": ("项目编号", "项目id", "项目代码"),
        "direction": ("收支", "收支方向", "方向", "类型"),
        "source_type": ("资金来源类型", "来源类型", "资金类型"),
        "source_name": ("来源方", "资金来源", "捐赠方", "对方单位", "收付对象", "counterparty"),
        "expense_category": ("支出类别", "支出科目", "用途", "科目"),
        "amount_yuan": ("金额", "金额(元)", "交易金额", "amount"),
        "note": ("备注", "摘要", "remark"),
    },
    "feedback": {
        "feedback_id": ("留言编号", "反馈编号", "工单号", "记录编号", "message_id"),
        "submitted_at": ("留言时间", "提交时间", "反馈时间", "来电时间", "时间", "created_at"),
        "street": ("街道", "所属街道"),
        "community": ("社区", "所属社区"),
        "grid_id": ("网格", "网格编号", "所属网格"),
        "channel": ("渠道", "来源渠道", "反映渠道", "source_channel"),
        "subject": ("留言主题", "主题", "标题", "title"),
        "text": ("留言详情", "留言内容", "反馈内容", "内容", "诉求内容", "content", "message"),
        "rating": ("评分", "满意度", "星级", "score"),
        "likes": ("点赞数", "点赞", "附议数", "likes_count"),
        "resident_id": ("留言用户", "居民", "反映人", "用户", "来电号码", "user", "resident"),
        "reply": ("答复意见", "回复", "回复内容", "答复", "response"),
        "replied_at": ("答复时间", "回复时间", "response_at"),
    },
    # deliberation and participation (issue 15)
    "communities": {
        "community": ("社区", "社区名称", "所属社区", "community_name"),
        "street": ("街道", "所属街道"),
        "households": ("户数", "住户数", "总户数", "常住户数", "household_count"),
        "residents": ("人口", "常住人口", "居民人数", "户籍人口", "population"),
        "grids": ("网格数", "网格数量", "grid_count"),
    },
    "meetings": {
        "meeting_id": ("会议编号", "会议id", "议事编号", "meeting_no"),
        "held_on": ("会议日期", "召开日期", "召开时间", "会议时间", "meeting_date"),
        "street": ("街道", "所属街道"),
        "community": ("社区", "所属社区"),
        "kind": ("会议类型", "会议形式", "类型", "meeting_kind"),
        "topic": ("议题", "会议议题", "主题", "subject"),
        "convener": ("召集人", "召集方", "主持人", "召集单位"),
        "attendees": ("参会人数", "出席人数", "到会人数", "attendance"),
        "parties": ("参会单位", "参会方", "参会主体", "参与方", "participants"),
    },
    "resolutions": {
        "resolution_id": ("决议编号", "决议id", "事项编号", "resolution_no"),
        "meeting_id": ("会议编号", "会议id", "议事编号", "meeting_no"),
        "community": ("社区", "所属社区"),
        "text": ("决议内容", "决议事项", "议定事项", "内容", "resolution"),
        "responsible_party": ("责任方", "责任单位", "牵头落实单位", "responsible"),
        "due_on": ("完成时限", "办结时限", "计划完成日期", "due_date"),
        "status": ("执行状态", "落实情况", "状态", "state"),
        "disclosed_on": ("公示日期", "公示时间", "公开日期", "disclosed_date"),
    },
    "votes": {
        "vote_id": ("投票编号", "表决编号", "投票id", "vote_no"),
        "street": ("街道", "所属街道"),
        "community": ("社区", "所属社区"),
        "topic": ("表决事项", "投票事项", "议题", "主题", "subject"),
        "opened_on": ("开始日期", "投票开始", "开始时间", "opened"),
        "closed_on": ("截止日期", "投票截止", "结束日期", "截止时间", "closed"),
        "eligible_voters": ("应参与人数", "应投票人数", "有投票权人数", "应到人数", "eligible"),
        "ballots_cast": ("实际投票人数", "实投票数", "参与人数", "实到人数", "cast"),
        "yes_votes": ("赞成", "赞成票", "同意", "yes"),
        "no_votes": ("反对", "反对票", "不同意", "no"),
        "abstain_votes": ("弃权", "弃权票", "abstain"),
    },
    "participation": {
        "record_id": ("记录编号", "参与编号", "流水号", "record_no"),
        "resident_id": ("居民", "参与居民", "居民编号", "姓名", "resident"),
        "street": ("街道", "所属街道"),
        "community": ("社区", "所属社区"),
        "activity": ("参与类型", "活动类型", "参与事项", "activity_type"),
        "occurred_on": ("参与日期", "活动日期", "日期", "date"),
        "hours": ("时长", "服务时长", "时长(小时)", "duration_hours"),
        "project_id": ("项目编号", "关联项目", "项目id"),
        "age_band": ("年龄段", "年龄组", "age_group"),
    },
    "redemptions": {
        "redemption_id": ("兑换编号", "兑换单号", "redemption_no"),
        "resident_id": ("居民", "兑换居民", "居民编号", "姓名", "resident"),
        "community": ("社区", "所属社区"),
        "redeemed_on": ("兑换日期", "兑换时间", "日期", "date"),
        "item": ("兑换物品", "兑换项目", "兑换内容", "物品", "goods"),
        "points": ("消耗积分", "兑换积分", "积分", "points_used"),
    },
    "evaluations": {
        "evaluation_id": ("评价编号", "评价id", "evaluation_no"),
        "project_id": ("项目编号", "项目id", "项目代码"),
        "submitted_at": ("评价时间", "提交时间", "评价日期", "created_at"),
        "rating": ("评分", "星级", "满意度", "score"),
        "comment": ("评价内容", "评语", "意见", "留言", "comment_text"),
        "resident_id": ("评价人", "居民", "用户", "resident"),
    },
    # residents rating the platform itself (issue 15: ease of use)
    "usability_ratings": {
        "rating_id": ("评分编号", "问卷编号", "打分编号", "rating_no"),
        "submitted_at": ("提交时间", "评分时间", "填写时间", "created_at"),
        "street": ("街道", "所属街道"),
        "community": ("社区", "所属社区"),
        "channel": ("使用渠道", "渠道", "平台入口", "platform"),
        "ease_score": ("易用性评分", "易用评分", "好用程度", "易用性", "ease", "ease_of_use", "usability_score"),
        "comment": ("意见建议", "使用意见", "建议", "留言", "comment_text"),
        "resident_id": ("评分人", "居民", "用户", "resident"),
    },
}

# columns without which a file of that kind is refused
REQUIRED: dict[str, tuple[str, ...]] = {
    "grid_reports": ("report_id", "reported_at", "community", "grid_id", "category", "status"),
    "projects": ("project_id", "name", "community", "category", "lead_party", "lead_party_type", "stage"),
    "project_milestones": ("project_id", "milestone", "planned_on"),
    "fund_transactions": ("txn_id", "txn_on", "project_id", "direction", "amount_yuan"),
    "feedback": ("submitted_at", "text"),
    "communities": ("community", "households"),
    "meetings": ("meeting_id", "held_on", "community", "kind"),
    "resolutions": ("resolution_id", "meeting_id", "text", "status"),
    "votes": ("vote_id", "community", "topic", "closed_on", "eligible_voters", "ballots_cast", "yes_votes",
              "no_votes"),
    "participation": ("resident_id", "community", "activity", "occurred_on"),
    "redemptions": ("resident_id", "redeemed_on", "item", "points"),
    "evaluations": ("project_id", "submitted_at", "rating"),
    "usability_ratings": ("submitted_at", "community", "ease_score"),
}

# load order when several kinds come in one command: referenced tables first
KIND_ORDER = ("communities", "projects", "project_milestones", "fund_transactions", "grid_reports", "feedback",
              "meetings", "resolutions", "votes", "participation", "redemptions", "evaluations",
              "usability_ratings")

_UNIT_SUFFIX = re.compile(r"[（(][^）)]*[）)]$")


def normalise_header(header: object) -> str:
    """'预算（元）' -> '预算', ' Submitted_At ' -> 'submitted_at'."""
    text = unicodedata.normalize("NFKC", str(header)).strip().lower()
    text = re.sub(r"\s+", "", text)
    stripped = _UNIT_SUFFIX.sub("", text)
    return stripped or text


def _lookup(kind: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, aliases in ALIASES[kind].items():
        for alias in (canonical, *aliases):
            table.setdefault(normalise_header(alias), canonical)
    return table


LOOKUP: dict[str, dict[str, str]] = {kind: _lookup(kind) for kind in ALIASES}


def map_headers(kind: str, headers: list[str]) -> dict[str, str]:
    """Source header -> canonical column for one kind; the first header wins on a clash."""
    table = LOOKUP[kind]
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        canonical = table.get(normalise_header(header))
        if canonical and canonical not in taken:
            mapping[header] = canonical
            taken.add(canonical)
    return mapping


def header_clashes(kind: str, headers: list[str]) -> list[tuple[str, str, str]]:
    """(canonical column, first header, second header) for every two headers that map to the
    same column ("事件类型" and "类别", or one header written twice): which one holds the
    data cannot be guessed, so the loader refuses the file naming both."""
    table = LOOKUP[kind]
    first: dict[str, str] = {}
    clashes = []
    for header in headers:
        canonical = table.get(normalise_header(header))
        if canonical is None:
            continue
        if canonical in first:
            clashes.append((canonical, first[canonical], header))
        else:
            first[canonical] = header
    return clashes


def detect_kind(headers: list[str]) -> tuple[str | None, dict[str, tuple[str, ...]]]:
    """The kind whose required columns are all present (most matched columns wins).

    Returns (kind, {}) or (None, {kind: missing required columns}) so a refusal can
    name what is missing for the closest kinds.
    """
    candidates = []
    missing: dict[str, tuple[str, ...]] = {}
    for kind in KIND_ORDER:
        mapped = set(map_headers(kind, headers).values())
        lacking = tuple(c for c in REQUIRED[kind] if c not in mapped)
        if lacking:
            missing[kind] = lacking
        else:
            candidates.append((len(mapped) / len(ALIASES[kind]), len(mapped), kind))
    if candidates:
        return max(candidates)[2], {}
    return None, missing


HEADER_SCAN_ROWS = 20   # a header below this many title/blank rows is not looked for


def header_row_index(rows: list[list[str | None]]) -> int:
    """Index of the header row among a sheet's first rows; -1 when they are all blank.

    Office exports often put a title ("2026年11月网格事件台账") and an export stamp above
    the header: the header is the first row whose cells name every required column of
    some kind. Without one, the first non-blank row is taken, so a refusal lists its cells.
    """
    first = -1
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        cells = [str(c).strip() for c in row if c is not None and str(c).strip()]
        if not cells:
            continue
        if first < 0:
            first = i
        if detect_kind(cells)[0]:
            return i
    return first


def display_header(kind: str, canonical: str) -> str:
    """The first Chinese alias: how an export would title the column."""
    return ALIASES[kind][canonical][0]
