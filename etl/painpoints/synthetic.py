"""A seeded synthetic feedback corpus with a known monthly top-3 (engine tests and benchmark).

Not the demo data (etl/demo/ makes realistic exports for the whole cockpit): this only
makes what the engine reads - one row per message with the columns of `feedback` - plus
the true topic of each message, in milliseconds, so stage tests need no database.
Messages mix a topic's phrases with greetings, place placeholders (A市A2区), masked phones
and generic filler, i.e. exactly the noise the engine must ignore.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pandas as pd

TOPICS: dict[str, tuple[str, ...]] = {
    "加装电梯": ("老旧小区加装电梯进度太慢", "六楼老人上下楼困难盼加装电梯", "加装电梯低层住户不同意",
              "电梯加装费用分摊有争议", "加装电梯施工方案迟迟没有公示"),
    "噪音扰民": ("广场舞音响太吵噪音扰民", "夜间施工噪音影响休息", "楼下商铺音响噪音扰民",
              "深夜装修电钻噪音不断", "烧烤摊喧哗噪音到凌晨"),
    "停车难": ("小区停车位严重不足", "停车难晚上回家找不到车位", "外来车辆占用停车位",
            "乱停车堵住消防通道", "停车费上涨车位还是不够"),
    "垃圾分类": ("垃圾分类投放点太脏", "垃圾桶满了没人清运", "厨余垃圾异味很大招蚊虫",
              "垃圾分类督导员不在岗", "垃圾清运车清晨噪声"),
    "物业服务": ("物业费收了服务不到位", "物业公司不维修漏水", "物业管理混乱保安不在岗",
              "物业费上涨没有公示账目", "物业服务态度差报修没人管"),
    "流浪动物": ("小区流浪猫越来越多", "流浪狗夜里狂叫还咬人", "有人投喂流浪动物留下粪便",
              "流浪狗追小孩很危险", "流浪猫在楼道里生小猫"),
    "楼道堆物": ("楼道堆物堵塞通道", "楼道杂物堆放存在火灾隐患", "邻居在楼道堆放旧家具",
              "楼道里堆满纸箱废品", "楼道堆物清理后又堆回来"),
    "养老助餐": ("希望社区开设老年食堂", "养老助餐点饭菜太贵", "独居老人吃饭难盼助餐服务",
              "老年食堂排队时间太长", "助餐点离家太远老人走不动"),
    "充电桩": ("电动车充电桩数量不够", "飞线充电很危险需要充电桩", "充电桩坏了没人修",
            "电动自行车充电难", "充电桩收费太高"),
}
FILLER = ("麻烦尽快处理一下", "已经反映多次了", "居民意见很大", "请相关部门重视", "影响大家正常生活",
          "情况一直没有改善", "希望得到解决")
GREETINGS = ("您好，", "尊敬的领导：", "你好！", "")
CLOSINGS = ("谢谢！", "此致敬礼", "盼复。", "")
COMMUNITIES = ("春晖社区", "秋实社区", "夏荷社区", "冬青社区")


def month_starts(n_months: int, end: date) -> list[date]:
    months, y, m = [], end.year, end.month
    for _ in range(n_months):
        months.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return months[::-1]


def message(rnd: random.Random, topic: str) -> str:
    parts = [rnd.choice(GREETINGS), f"A市A{rnd.randint(1, 9)}区", rnd.choice(TOPICS[topic])]
    if rnd.random() < 0.6:
        parts.append("，" + rnd.choice(TOPICS[topic]))
    parts.append("，" + rnd.choice(FILLER))
    if rnd.random() < 0.2:
        parts.append(f"，联系电话13{rnd.randint(0, 9)}****{rnd.randint(1000, 9999)}")
    parts.append("。" + rnd.choice(CLOSINGS))
    return "".join(parts)


def corpus(n_months: int = 6, per_month: int = 300, seed: int = 7,
           end: date = date(2026, 6, 30)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(feedback rows, planted top-3 per month: month_on, rank, topic).

    Each month three topics are planted with 22%, 18% and 14% of the messages; the other
    topics share the rest evenly (each well below the third).
    """
    rnd = random.Random(seed)
    names = sorted(TOPICS)
    rows, planted = [], []
    for mi, month in enumerate(month_starts(n_months, end)):
        top = rnd.sample(names, 3)
        rest = [t for t in names if t not in top]
        weights = [0.22, 0.18, 0.14] + [0.46 / len(rest)] * len(rest)
        planted += [{"month_on": month, "rank": r + 1, "topic": t} for r, t in enumerate(top)]
        for i in range(per_month):
            topic = rnd.choices(top + rest, weights)[0]
            replied = rnd.random() < 0.5
            ts = datetime(month.year, month.month, 1) + timedelta(minutes=rnd.randrange(27 * 24 * 60))
            rows.append({
                "feedback_id": f"S{mi:02d}{i:05d}", "submitted_at": ts,
                "community": rnd.choice(COMMUNITIES), "channel": "微信群", "subject": None,
                "text": message(rnd, topic), "rating": rnd.choice((None, 1, 2, 3, 4, 5)),
                "likes": rnd.randrange(0, 10), "reply": "已转物业处理" if replied else None,
                "replied_at": ts + timedelta(days=2) if replied else None, "topic": topic})
    return pd.DataFrame(rows), pd.DataFrame(planted)
