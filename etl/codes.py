"""The named codes of the cockpit, defined once: Python reads these constants, the marts
read the same values from the `named_codes` table that `etl.marts.build` seeds from them.

Codes are the Chinese values as they appear in the source exports (data, not UI text);
display labels live in dashboard/i18n.py.
"""
from __future__ import annotations

# the pain-point scope (and briefing scope) meaning "every community of the street"
WHOLE_STREET = "全街道"

# grid-report statuses; a case with a closed status counts as closed even without resolved_at
REPORT_STATUSES = ("待受理", "处置中", "已办结", "已关闭")
CLOSED_STATUSES = ("已办结", "已关闭")

# project stages in order; pipeline stages are "in view" before they start, the last is finished
STAGES = ("立项", "审批", "实施", "验收", "结项")
PIPELINE_STAGES = ("立项", "审批")
FINISHED_STAGE = "结项"

# 五社: the five kinds of party that lead or partner in a project
PARTY_TYPES = ("社区", "社会组织", "社会工作者", "社区志愿者", "社会慈善资源")
CHARITY_TYPE = "社会慈善资源"

# ledger source types
GOVERNMENT_SOURCE = "财政拨款"
CHARITY_SOURCE_TYPES = ("企业社会责任", "公众小额捐赠", "慈善信托", "社区基金", "商户公益·实物折价")

# project early-warning thresholds (the project_status mart's flags)
BEHIND_SCHEDULE_POINTS = 15   # progress more than this many points below time elapsed
STALLED_DAYS = 30             # no update for more than this many days
SPEND_AHEAD_POINTS = 20       # spent share of budget more than this many points above progress

# kind -> ordered codes: the rows of the named_codes table
NAMED_CODES: dict[str, tuple] = {
    "whole_street": (WHOLE_STREET,),
    "report_status": REPORT_STATUSES,
    "closed_status": CLOSED_STATUSES,
    "stage": STAGES,
    "pipeline_stage": PIPELINE_STAGES,
    "finished_stage": (FINISHED_STAGE,),
    "party_type": PARTY_TYPES,
    "charity_type": (CHARITY_TYPE,),
    "government_source": (GOVERNMENT_SOURCE,),
    "charity_source": CHARITY_SOURCE_TYPES,
}

# rule -> threshold: the rows of the warning_rules table
WARNING_THRESHOLDS: dict[str, int] = {
    "behind_schedule": BEHIND_SCHEDULE_POINTS,
    "stalled": STALLED_DAYS,
    "spending_ahead": SPEND_AHEAD_POINTS,
}
