"""What one person may see, as ids the queries filter on (computed by `domain.people.scope`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scope:
    """A student is visible when their class, school or home village is listed, or `everything`."""

    staff_id: int | None
    class_ids: frozenset[int] = field(default_factory=frozenset)
    school_ids: frozenset[int] = field(default_factory=frozenset)
    village_ids: frozenset[int] = field(default_factory=frozenset)
    area_ids: frozenset[int] = field(default_factory=frozenset)  # townships/villages under an officer
    everything: bool = False

    def sees_student(self, class_id: int | None, school_id: int | None, home_village_id: int | None) -> bool:
        """The same rule the repositories apply in SQL, for objects already loaded. A child on no school
        roll (失学: no class, no school) is seen only through their village: by its cadre and the officers
        whose area holds it, never by teachers or principals."""
        return (
            self.everything
            or (class_id is not None and class_id in self.class_ids)
            or (school_id is not None and school_id in self.school_ids)
            or (home_village_id is not None and home_village_id in self.village_ids)
        )
