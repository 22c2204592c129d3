"""The model's fixed vocabularies: sectors, size classes, regions, populations and barriers.

Sectors are NACE Rev. 2 sections of the business economy C–N (K included because CBS reports it;
the ICT survey's own scope, C–N excluding K plus 95.1, is an observation filter, not a
population). Size classes are derived from the integer ``employees`` attribute, so any band a
survey uses is a filter over firms, never a new attribute.
"""

from __future__ import annotations

import numpy as np

SECTORS: tuple[str, ...] = ("C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N")
SECTOR_NAMES: dict[str, str] = {
    "C": "Manufacturing",
    "D": "Electricity, gas, steam",
    "E": "Water supply, waste",
    "F": "Construction",
    "G": "Wholesale and retail trade",
    "H": "Transport and storage",
    "I": "Accommodation and food",
    "J": "Information and communication",
    "K": "Financial and insurance",
    "L": "Real estate",
    "M": "Professional, scientific, technical",
    "N": "Administrative and support services",
}

# (label, lowest, highest) employees; the top class is open and capped for drawing only.
SIZE_CLASSES: tuple[tuple[str, int, int], ...] = (
    ("1-9", 1, 9),
    ("10-19", 10, 19),
    ("20-49", 20, 49),
    ("50-249", 50, 249),
    ("250-499", 250, 499),
    ("500+", 500, 20000),
)
SIZE_LABELS: tuple[str, ...] = tuple(c[0] for c in SIZE_CLASSES)
# Finer employee bands kept by the recorder so that every survey band (2-9, 10-49, 10-249, 250+,
# 500+, 10+ ...) is a union of them; a band cutting through one of these cannot be observed.
RECORD_BANDS: tuple[tuple[int, int], ...] = (
    (1, 1),
    (2, 9),
    (10, 19),
    (20, 49),
    (50, 249),
    (250, 499),
    (500, 10**9),
)
SME_MAX_EMPLOYEES = 249  # EU SME definition (Recommendation 2003/361/EC), headcount criterion
SMALL_MAX_EMPLOYEES = 49  # small vs medium, same recommendation; KMO-portefeuille rates follow it

FLEMISH_PROVINCES: tuple[str, ...] = ("BE-VAN", "BE-VLI", "BE-VOV", "BE-VBR", "BE-VWV")
REGIONS: tuple[str, ...] = (*FLEMISH_PROVINCES, "BE-BRU", "BE-WAL", "NL")
REGION_NAMES: dict[str, str] = {
    "BE-VAN": "Antwerpen",
    "BE-VLI": "Limburg",
    "BE-VOV": "Oost-Vlaanderen",
    "BE-VBR": "Vlaams-Brabant",
    "BE-VWV": "West-Vlaanderen",
    "BE-BRU": "Brussels-Capital",
    "BE-WAL": "Wallonia",
    "NL": "Netherlands",
}
POPULATIONS: dict[str, tuple[str, ...]] = {
    "flanders": FLEMISH_PROVINCES,
    "belgium": (*FLEMISH_PROVINCES, "BE-BRU", "BE-WAL"),
    "netherlands": ("NL",),
}

BARRIERS: tuple[str, ...] = (
    "knowledge_skills",
    "hard_to_assess",
    "cost_benefit",
    "financing",
    "incompatibility",
    "data_quality",
    "knowledge_partner",
    "legal_ethical",
    "attracting_staff",
)
BARRIER_INDEX: dict[str, int] = {b: i for i, b in enumerate(BARRIERS)}

# Adoption states of a firm.
NON_USER, USER, AT_SCALE = 0, 1, 2


def record_band_of(employees: np.ndarray) -> np.ndarray:
    """Index into `RECORD_BANDS` for each firm's employee count."""
    lows = np.array([b[0] for b in RECORD_BANDS[1:]])
    return np.searchsorted(lows, employees, side="right").astype(np.int8)
