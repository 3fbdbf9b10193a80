"""The result of a verification: per check, how many items were checked and what failed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    check: str
    path: str  # the file (or folder) the finding is about, relative to the data root when possible
    message: str


@dataclass
class _Check:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)


class Report:
    def __init__(self, dataset: str):
        self.dataset = dataset
        self._checks: dict[str, _Check] = {}
        self.notes: list[str] = []  # facts worth knowing that are not failures

    def note(self, text: str) -> None:
        self.notes.append(text)

    def checked(self, check: str, n: int = 1) -> None:
        self._checks.setdefault(check, _Check()).checked += n

    def fail(self, check: str, path: str, message: str) -> None:
        self._checks.setdefault(check, _Check()).findings.append(Finding(check, path, message))

    def crashed(self, check: str, path: str, exc: BaseException) -> None:
        """A checked item whose check raised in a worker (``parallel_map`` returns the exception): a finding."""
        self.checked(check)
        self.fail(check, path, f"{type(exc).__name__}: {exc}")

    def add(self, results: Iterable[tuple[str, str, str | None]]) -> None:
        """Records per-item results: each (check, path, message or None when it passed) counts as checked."""
        for check, path, message in results:
            self.checked(check)
            if message is not None:
                self.fail(check, path, message)

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self._checks.values() for f in c.findings]

    @property
    def ok(self) -> bool:
        return not self.findings

    def table(self, max_findings_per_check: int = 10) -> str:
        names = list(self._checks)
        width = max([len(n) for n in names] + [5])
        lines = [f"verify {self.dataset}", f"  {'check':<{width}}  {'checked':>9}  {'failed':>7}  result"]
        for name in names:
            c = self._checks[name]
            lines.append(f"  {name:<{width}}  {c.checked:>9,}  {len(c.findings):>7,}  {'ok' if not c.findings else 'FAIL'}")
        for name in names:
            findings = self._checks[name].findings
            for f in findings[:max_findings_per_check]:
                lines.append(f"  [{name}] {f.path}: {f.message}")
            if len(findings) > max_findings_per_check:
                lines.append(f"  [{name}] ... and {len(findings) - max_findings_per_check:,} more")
        lines += [f"  note: {note}" for note in self.notes]
        lines.append(f"{self.dataset}: {'all checks passed' if self.ok else f'{len(self.findings):,} problems found'}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "dataset": self.dataset,
            "ok": self.ok,
            "notes": list(self.notes),
            "checks": {
                name: {"checked": c.checked, "findings": [[f.path, f.message] for f in c.findings]}
                for name, c in self._checks.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> "Report":
        report = cls(data["dataset"])
        for text in data.get("notes", []):
            report.note(text)
        for name, check in data["checks"].items():
            report.checked(name, check["checked"])
            for path, message in check["findings"]:
                report.fail(name, path, message)
        return report
