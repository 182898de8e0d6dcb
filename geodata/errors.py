"""The project's own exception types.

Every error a user can cause (a bad file, an unknown name) is raised as one of these, with a
message that names the file, row and field, so the CLI and the app can show it as it is.
"""

from __future__ import annotations


class VnbbError(Exception):
    """Base class of every error the project raises on purpose."""


class DataFileError(VnbbError):
    """An input file is missing, unreadable, or its content is wrong.

    ``problems`` holds every problem found (not only the first) as short strings that each name
    the row or feature and the field.
    """

    def __init__(self, path: object, message: str, problems: list[str] | None = None) -> None:
        self.path = str(path)
        self.problems = list(problems or [])
        text = f"{self.path}: {message}"
        if self.problems:
            shown = self.problems[:20]
            text += "\n" + "\n".join(f"  - {p}" for p in shown)
            if len(self.problems) > len(shown):
                text += f"\n  ... and {len(self.problems) - len(shown)} more"
        super().__init__(text)


class CRSError(DataFileError):
    """A layer has no coordinate reference system, or one that cannot be used."""


class GeometryError(DataFileError):
    """A layer has empty or unrepairable geometries."""


class UnitNameError(VnbbError):
    """A name does not resolve to exactly one administrative unit.

    ``suggestions`` lists ``(code, name)`` pairs of the likely units, best first.
    """

    def __init__(self, name: str, message: str, suggestions: list[tuple[str, str]] | None = None):
        self.name = name
        self.suggestions = list(suggestions or [])
        text = message
        if self.suggestions:
            text += " Did you mean: " + "; ".join(f"{n} ({c})" for c, n in self.suggestions) + "?"
        super().__init__(text)


class UnknownUnitError(UnitNameError):
    """The name matches no unit of the asked scheme and level."""


class AmbiguousUnitError(UnitNameError):
    """The name matches several units equally well."""


class FetchError(VnbbError):
    """A download failed or its content did not match the published checksum."""


class InputLimitError(DataFileError):
    """An input is larger than the set limit (a file, or an archive's declared or actual content)."""


class UnsafeArchiveError(DataFileError):
    """An archive holds paths that would land outside the folder it is unpacked into."""


class ScenarioImportError(VnbbError):
    """A file cannot be imported into a scenario at all (not a scenario folder, a kind that is
    not a scenario input, a file type the kind cannot be); a file with bad content gets a
    validation report instead."""
