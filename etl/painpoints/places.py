"""Places in resident messages: estates, buildings, streets and villages (pure, deterministic).

    extract(text)        -> raw place mentions, in order       (PlaceExtractor)
    PlaceNormaliser.fit  -> one canonical name per mention      (corpus-level aliases)

1. Known names first: the communities of the data (with and without 社区) and the user
   dictionary's words tagged `ns`; they are matched literally.
2. Then the pattern: a run of 2-8 CJK characters ending in a place suffix (小区 花园 家园
   公寓 大厦 广场 新城 新村 苑 园 城 村 里 路 街 大道 巷 公馆 华庭 府 ...). The run starts after
   the last boundary word inside it (的 在 位于 关于 反映 我们 最近 ...), so `反映滨河苑`
   gives `滨河苑`. Generic words that end in a suffix (道路 马路 农村 幼儿园 广场舞 这里 ...)
   are not places.
3. Normalisation: separators (`·` `•` spaces) are dropped, a trailing 小区 is dropped when
   what is left still ends in a suffix (`滨河苑小区` -> `滨河苑`). Across the corpus a short
   name that is the tail of exactly one longer name is that place (`滨河苑` ->
   `伊景园滨河苑`); when it is the tail of several, it stays itself and so does each longer one.
Anonymised placeholders (A市, A2区) are removed before extraction (normalise.py), so they are
never places.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

from etl.painpoints import normalise as norm
from etl.painpoints.tokenize import USERDICT, read_userdict

VERSION = "places-1"     # part of the hot-spot input: bump when the rules change
SUFFIXES = ("小区", "社区", "花园", "家园", "公寓", "大厦", "广场", "新城", "新村", "公馆", "华庭", "华府",
            "名邸", "山庄", "安置区", "大道", "苑", "园", "城", "村", "里", "路", "街", "巷", "府", "湾", "郡")
ROADS = ("路", "街", "大道", "巷")
ESTATES = ("小区", "花园", "家园", "公寓", "大厦", "广场", "新城", "新村", "公馆", "华庭", "华府", "名邸",
           "山庄", "苑", "园", "城", "府", "湾", "郡")
# Suffixes that a following longer suffix takes over (樱园|小区 -> 樱园小区).
_LONGER = ("小区", "社区", "花园", "家园", "公寓", "大厦", "广场", "新城", "新村", "公馆", "华庭", "华府")
# A one-character suffix followed by one of these is part of another word (城区, 街道, 村委).
_NOT_BEFORE = {"园": "区林艺丁", "城": "区市管乡镇际铁建际", "路": "费线况灯面", "广场": "舞",
               "社区": "食服医工居干卫养志活图党网医卫食书商", "街": "道头", "里": "面边程",
               "村": "委镇名", "府": "办", "湾": "区", "苑": "区"}
# 里 after one of these is "inside" (车棚里, 绿化带里, 电梯里), not a lane's name (安宁里, 幸福里)
_INSIDE = "带棚库间道箱堆边院楼房屋车家店场园区坑洞沟池井梯台室厅馆所站亭"
# Words that end a place name's left context: the name starts right after the last one.
BOUNDARIES = (
    "的", "在", "于", "是", "了", "和", "与", "及", "或", "等", "对", "从", "到", "至", "往", "经", "沿",
    "把", "被", "给", "让", "将", "我", "你", "他", "她", "们", "这", "那", "该", "本", "此", "住", "要",
    "请", "求", "望", "为", "由", "局", "院", "校", "厂", "公司", "以南", "以北", "以东", "以西",
    "关于", "反映", "投诉", "举报", "建议", "咨询", "希望", "附近", "旁边", "周边", "对面", "门口",
    "最近", "几天", "上周", "月来", "晚上", "周末", "时间", "以来", "开始", "发现", "每天", "下班",
    "回来", "下雨", "一直", "市", "省", "县", "区", "镇", "乡", "街道", "社区", "小区", "业主", "居民",
    "村民", "网友", "政府", "部门", "问题", "解决", "治理", "整治", "取缔", "恢复", "增加", "设置",
    "安装", "加快", "尽快", "强烈", "坚决", "反对", "要求", "请求", "呼吁", "督促", "停止", "搬迁",
    "改造", "修建", "建设", "规划", "拓宽", "开通", "经过", "延伸", "前往", "位置", "地址", "地点",
    "拖延", "个", "整", "全", "目前", "导致", "影响", "造成", "占用", "穿过", "通过", "途径", "连接",
    "拉通", "绕道", "左转", "右转", "改走", "开行", "知道", "虽然", "但", "而", "如果", "另外", "同时",
    "包括", "有", "也", "都", "还", "就", "又", "已", "去", "来", "说", "问", "指", "系", "停", "以",
    "办事处", "开发", "置业", "参加", "报名", "想", "进入", "进出", "新建", "部分", "段", "上学", "用房", "增设", "一侧", "东门", "西门", "南门", "北门", "入口", "一层", "之间", "号", "栋", "楼", "单元", "室", "期", "组", "路口", "公交", "车站", "站")
# Words ending in a suffix that name no particular place; a candidate ending in one is dropped.
GENERIC_TAILS = (
    "道路", "马路", "公路", "铁路", "线路", "电路", "思路", "出路", "一路", "小路", "水路", "网路", "环路",
    "走路", "修路", "过路", "上路", "带路", "支路", "主路", "辅路", "农村", "乡村", "山村", "全村", "本村",
    "该村", "我村", "各村", "邻村", "城中村", "村村", "这里", "那里", "哪里", "家里", "公里", "城里", "心里",
    "村里", "夜里", "县里", "市里", "县城", "进城", "全城", "商城", "长城", "主城", "满城", "老城", "古城",
    "幼儿园", "动物园", "校园", "乐园", "菜园", "果园", "陵园", "公园", "田园", "庄园", "产业园", "工业园",
    "科技园", "游乐园", "植物园", "墓园", "政府", "王府", "首府", "学府", "官府", "港湾", "海湾", "台湾",
    "大街", "上街", "逛街", "沿街", "临街", "十字路", "交叉路", "水泥路", "泥巴路", "无路", "条路", "快速路",
    "条街", "小巷", "电梯里", "体村", "名村", "位村", "地村", "困村", "然村", "多村", "户村", "包村", "界村",
    "园里", "区里", "场里", "楼里", "院里", "校里", "店里", "屋里", "公立园", "民办园", "公办园", "休闲广场", "开放性小区", "老旧社区", "美好家园", "安置小区", "物流园", "断头路")
GENERIC = frozenset(("花园", "家园", "广场", "小区", "社区", "新村", "公寓", "大厦", "大道", "新城"))
_SEPARATORS = re.compile(r"[·•・\s]+")
_SUFFIX_RE = re.compile("|".join(sorted(SUFFIXES, key=len, reverse=True)))   # plain: 7x a lookahead
_NOT_RUN = re.compile(r"[^\u4e00-\u9fff·•・]")


def _suffix_at(run: str, end: int) -> str | None:
    """The longest suffix ending exactly at run[:end]."""
    for s in sorted(SUFFIXES, key=len, reverse=True):
        if run.endswith(s, 0, end):
            return s
    return None


def clean(name: str) -> str:
    """Separators dropped; a trailing 小区 dropped when the rest still names a place."""
    name = _SEPARATORS.sub("", name)
    if name.endswith("小区") and len(name) > 4 and _suffix_at(name, len(name) - 2):
        name = name[:-2]
    return name


@dataclass
class PlaceExtractor:
    """Raw place mentions of one message (see the module docstring, steps 1-2)."""
    known: tuple[str, ...] = ()
    userdict: Path = USERDICT
    max_len: int = 10

    @cached_property
    def _full(self) -> dict[str, str]:
        """Every known name -> how it is reported: a community by its full name (安宁里 ->
        安宁里社区), anything else cleaned."""
        names = {clean(n) for n in self.known} | {
            clean(w) for w, _, tag in read_userdict(self.userdict) if tag == "ns"}
        full = {n: n for n in names if len(n) >= 2}
        full.update({n[:-2]: n for n in names if n.endswith("社区") and len(n) > 4})
        return full

    @cached_property
    def _known_re(self) -> re.Pattern | None:
        """Known names, longest first; a name followed by more of a place name (清上园·桂香苑,
        毛纺北小区) is left to the pattern, which reads the whole of it."""
        names = sorted(self._full, key=len, reverse=True)
        more = "(?![·•・]|" + "|".join(SUFFIXES) + ")"
        return re.compile("(?:" + "|".join(map(re.escape, names)) + ")" + more) if names else None

    @cached_property
    def _boundary_re(self) -> re.Pattern:
        return re.compile("|".join(sorted(map(re.escape, BOUNDARIES), key=len, reverse=True)))

    def _candidate(self, text: str, start: int, end: int, suffix: str, floor: int) -> str | None:
        """The place name ending in `suffix` at text[start:end], or None."""
        nxt = text[end:end + 2]
        if nxt and ((nxt.startswith(_LONGER) and text[end + 2:end + 3] != "房")        # 小区公寓房
                    or nxt[0] in _NOT_BEFORE.get(suffix, "")):
            return None
        window = _NOT_RUN.split(text[max(floor, start - self.max_len):start])[-1]
        cut = 0
        for m in self._boundary_re.finditer(window):
            cut = m.end()
        body = _SEPARATORS.sub("", window[cut:])
        name = clean(body + suffix)
        if len(body) < 2 or name in GENERIC or name.endswith(GENERIC_TAILS):
            return None
        if suffix == "里" and body[-1] in _INSIDE:          # 车棚里, 绿化带里: "inside", not 安宁里
            return None
        return name

    def _by_pattern(self, text: str) -> list[str]:
        """Place names by suffix; an estate name right after another estate name is its part
        (伊景园·滨河苑 is one place), a road before an estate is not (南湖路 金泰小区)."""
        found: list[str] = []
        floor = 0
        for m in _SUFFIX_RE.finditer(text):
            start, end, suffix = m.start(), m.end(), m.group(0)
            if start < floor:
                continue
            name = self._candidate(text, start, end, suffix, floor)
            if not name:
                continue
            if found and clean(text[floor:end]) == name and not found[-1].endswith(ROADS) \
                    and not name.endswith(ROADS):
                found[-1] = found[-1] + name
            else:
                found.append(name)
            floor = end
        return found

    def extract_clean(self, cleaned: str) -> list[str]:
        """Place mentions of an already normalised text (normalise.normalise), each once."""
        out: list[str] = []
        if self._known_re is not None and self._known_re.search(cleaned):
            out.extend(self._full[m.group(0)] for m in self._known_re.finditer(cleaned))
            cleaned = self._known_re.sub(" ", cleaned)
        out.extend(self._by_pattern(cleaned))
        return list(dict.fromkeys(out)) if len(out) > 1 else out

    def extract(self, text: str | None) -> list[str]:
        """Place mentions in `text` (normalised first), known names first, each once."""
        return self.extract_clean(norm.normalise(text))

    def extract_many(self, texts: Iterable[str | None]) -> list[list[str]]:
        """extract() over many messages (normalised in batches: same result, faster)."""
        return [self.extract_clean(t) for t in norm.normalise_many(texts)]


@dataclass
class PlaceNormaliser:
    """Corpus-level aliases: each raw mention -> one canonical place (step 3)."""
    alias: dict[str, str] = field(default_factory=dict)

    def fit(self, mentions: Iterable[Iterable[str]]) -> "PlaceNormaliser":
        """Learn the aliases from every message's mentions. For a name B ending in a shorter
        name A that also occurs on its own: when B's head (B minus A) is itself a place name
        (伊景园 + 滨河苑), A is part of B; otherwise the head is context the left boundary
        missed (造成 + 特立路) and B is A when A is at least as frequent."""
        counts = Counter(clean(p) for ps in mentions for p in ps)
        up: dict[str, set[str]] = {}
        alias: dict[str, str] = {}
        for longer in sorted(counts):
            for i in range(1, len(longer) - 2):
                tail, head = longer[i:], longer[:i]
                if tail not in counts:
                    continue
                if len(head) >= 2 and head.endswith(ESTATES) and not tail.endswith(ROADS + ("村", "社区")):
                    up.setdefault(tail, set()).add(longer)
                elif counts[tail] >= counts[longer] and longer not in alias:
                    alias[longer] = tail
        for short, longer in up.items():
            heads = {alias.get(n, n) for n in longer} - {short}
            if len(heads) == 1 and short not in alias:
                alias[short] = heads.pop()
        for name in counts:                          # resolve chains once, deterministically
            seen, target = {name}, alias.get(name, name)
            while alias.get(target, target) != target and target not in seen:
                seen.add(target)
                target = alias[target]
            if target != name:
                alias[name] = target
        self.alias = alias
        return self

    def __call__(self, name: str) -> str:
        c = clean(name)
        return self.alias.get(c, c)

    def canonical(self, places: list[str]) -> list[str]:
        return list(dict.fromkeys(self(p) for p in places))
