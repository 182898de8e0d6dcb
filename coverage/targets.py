"""National targets as data, read from TOML, and the village coverage rule."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from geodata.errors import DataFileError

DEFAULT_TARGETS = Path(__file__).with_name("default_targets.toml")
INDICATORS = ("households", "villages", "provinces_with_5g", "smart_cities_with_5g")
TECHNOLOGIES = ("fixed", "4G", "5G")


@dataclass(frozen=True)
class Target:
    """One target of one document: indicator, threshold, deadline, and the networks that count."""

    id: str
    title: str
    indicator: str
    comparison: str
    threshold: float
    unit: str
    deadline: dt.date
    technologies: tuple[str, ...]
    source: str
    min_speed_mbps: dict[str, float] = field(default_factory=dict)

    def met(self, value):
        """Whether ``value`` (a number or an array) meets the target."""
        return value > self.threshold if self.comparison == ">" else value >= self.threshold


@dataclass(frozen=True)
class VillageRule:
    """When a village counts as covered: its point ("point"), or a share of its households."""

    rule: str = "point"
    min_household_share: float = 0.5

    def describe(self) -> str:
        if self.rule == "point":
            return "a village is covered when its point lies inside a covering network's footprint"
        return (f"a village is covered when at least {self.min_household_share:.0%} "
                "of its households are covered")


@dataclass(frozen=True)
class TargetSet:
    targets: tuple[Target, ...]
    village_rule: VillageRule
    path: str
    smart_cities: dict = field(default_factory=dict)

    def by_id(self, target_id: str) -> Target:
        for target in self.targets:
            if target.id == target_id:
                return target
        raise KeyError(target_id)


def load_targets(path: Path | str | None = None) -> TargetSet:
    """Read a targets file (the defaults when ``path`` is None), checking every field."""
    path = Path(path) if path else DEFAULT_TARGETS
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataFileError(path, f"cannot be read as TOML ({exc}).") from exc
    problems: list[str] = []
    targets = []
    ids = set()
    for i, item in enumerate(raw.get("target", []), start=1):
        where = f"[[target]] #{i} ({item.get('id', 'no id')})"
        missing = [k for k in ("id", "indicator", "comparison", "threshold", "deadline", "source") if k not in item]
        if missing:
            problems.append(f"{where}: missing field(s) {', '.join(missing)}")
            continue
        if item["id"] in ids:
            problems.append(f"{where}: id is used twice")
        ids.add(item["id"])
        if item["indicator"] not in INDICATORS:
            problems.append(f"{where}: indicator {item['indicator']!r} is not one of {', '.join(INDICATORS)}")
        if item["comparison"] not in (">", ">="):
            problems.append(f"{where}: comparison must be '>' or '>='")
        techs = tuple(item.get("technologies", TECHNOLOGIES))
        bad = [t for t in techs if t not in TECHNOLOGIES]
        if bad:
            problems.append(f"{where}: technologies {bad} not among {', '.join(TECHNOLOGIES)}")
        deadline = item["deadline"]
        if not isinstance(deadline, dt.date):
            problems.append(f"{where}: deadline must be a date like 2025-12-31")
        unit = item.get("unit", "percent")
        if unit == "percent" and not 0 <= float(item["threshold"]) <= 100:
            problems.append(f"{where}: threshold {item['threshold']} is not a percentage")
        targets.append(Target(str(item["id"]), str(item.get("title", item["id"])), item["indicator"],
                              item["comparison"], float(item["threshold"]), unit, deadline, techs,
                              str(item["source"]), dict(item.get("min_speed_mbps", {}))))
    rule_raw = raw.get("village_rule", {})
    rule = VillageRule(str(rule_raw.get("rule", "point")), float(rule_raw.get("min_household_share", 0.5)))
    if rule.rule not in ("point", "households"):
        problems.append(f"[village_rule]: rule must be 'point' or 'households', not {rule.rule!r}")
    if not 0 < rule.min_household_share <= 1:
        problems.append("[village_rule]: min_household_share must be in (0, 1]")
    if not targets and not problems:
        problems.append("no [[target]] tables")
    if problems:
        raise DataFileError(path, "the targets file has errors.", problems)
    return TargetSet(tuple(targets), rule, str(path), dict(raw.get("smart_cities", {})))
