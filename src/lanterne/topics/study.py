"""A study: topics (sensitive, placebo, control) with their hashtags, the platforms compared, the time
windows (the same on every platform), and regions. Read from YAML; every error names its line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROLES = ("sensitive", "placebo", "control")


class StudyError(ValueError):
    """A study or counts file that cannot be used; str() is one line naming the file and line."""


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class Topic:
    name: str
    role: str
    hashtags: dict[str, list[str]]  # language -> hashtags (without '#', lower-case)

    @property
    def all_hashtags(self) -> list[str]:
        return list(dict.fromkeys(h for tags in self.hashtags.values() for h in tags))


@dataclass
class Study:
    name: str
    path: str
    platform_a: str  # the ratio is a / b (e.g. instagram / tiktok)
    platform_b: str
    windows: list[Window]
    topics: list[Topic]
    regions: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def platforms(self) -> tuple[str, str]:
        return (self.platform_a, self.platform_b)

    def topic_of(self, hashtag: str) -> Topic | None:
        hashtag = normalise_hashtag(hashtag)
        for topic in self.topics:
            if hashtag in topic.all_hashtags:
                return topic
        return None

    def window(self, start: dt.date, end: dt.date) -> Window | None:
        for window in self.windows:
            if window.start == start and window.end == end:
                return window
        return None


def normalise_hashtag(tag: str) -> str:
    return tag.strip().lstrip("#").lower()


class _LineLoader(yaml.SafeLoader):
    """Keeps the line of every mapping, so errors can name it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise StudyError(f"{where}: '{value}' is not a date (YYYY-MM-DD)") from None


def load_study(path: str | Path) -> Study:
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise StudyError(f"{path}: no such file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise StudyError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(doc, dict):
        raise StudyError(f"{path}: a study is a YAML mapping (name, platforms, windows, topics)")

    def at(node: Any) -> str:
        return f"{path}:{node.get('__line__', '?')}" if isinstance(node, dict) else str(path)

    platforms = doc.get("platforms")
    if not isinstance(platforms, dict) or not platforms.get("a") or not platforms.get("b"):
        raise StudyError(f"{at(doc)}: 'platforms' needs 'a' and 'b' (the ratio is a / b)")
    windows: list[Window] = []
    lines: list[int] = []
    for node in doc.get("windows") or []:
        if not isinstance(node, dict):
            raise StudyError(f"{at(doc)}: each window is a mapping with start and end")
        window = Window(_date(node.get("start"), at(node)), _date(node.get("end"), at(node)))
        if window.end < window.start:
            raise StudyError(f"{at(node)}: window {window.label} ends before it starts")
        for other, line in zip(windows, lines):
            if window.start <= other.end and other.start <= window.end:
                raise StudyError(f"{at(node)}: window {window.label} overlaps window {other.label} (line {line})")
        windows.append(window)
        lines.append(node.get("__line__", 0))
    if not windows:
        raise StudyError(f"{at(doc)}: the study has no windows")
    topics: list[Topic] = []
    owner: dict[str, tuple[str, int]] = {}
    for node in doc.get("topics") or []:
        if not isinstance(node, dict) or not node.get("name"):
            raise StudyError(f"{at(node)}: each topic needs a name")
        role = str(node.get("role", ""))
        if role not in ROLES:
            raise StudyError(f"{at(node)}: topic '{node['name']}' has unknown role '{role}' (one of: {', '.join(ROLES)})")
        raw = node.get("hashtags")
        if isinstance(raw, list):
            raw = {"any": raw}
        if not isinstance(raw, dict) or not any(isinstance(v, list) and v for k, v in raw.items() if k != "__line__"):
            raise StudyError(f"{at(node)}: topic '{node['name']}' has no hashtags")
        hashtags = {str(lang): [normalise_hashtag(str(h)) for h in tags] for lang, tags in raw.items() if lang != "__line__"}
        for tags in hashtags.values():
            for tag in tags:
                if tag in owner and owner[tag][0] != node["name"]:
                    raise StudyError(
                        f"{at(node)}: hashtag '{tag}' is in topic '{node['name']}' and in '{owner[tag][0]}' (line {owner[tag][1]})"
                    )
                owner[tag] = (str(node["name"]), node.get("__line__", 0))
        topics.append(Topic(str(node["name"]), role, hashtags))
    roles = {t.role for t in topics}
    if "control" not in roles:
        raise StudyError(f"{at(doc)}: the study needs at least one topic with role 'control'")
    return Study(
        name=str(doc.get("name") or path.stem),
        path=str(path),
        platform_a=str(platforms["a"]).lower(),
        platform_b=str(platforms["b"]).lower(),
        windows=windows,
        topics=topics,
        regions=[str(r) for r in doc.get("regions") or []],
        description=str(doc.get("description") or ""),
    )
