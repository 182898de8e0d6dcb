"""Names people use for provincial units that plain normalisation cannot reach.

Keys are in the form :func:`geodata.names.name_key` gives. Each alias says what it is, so a
message can explain the match ("former name", "English name", "typo in the published source").
English names equal to the unaccented Vietnamese ones ("Ha Giang") need no entry: folding
diacritics already handles them.
"""

from __future__ import annotations

# scheme -> alias key -> (GSO code, kind of alias)
PROVINCE_ALIASES: dict[str, dict[str, tuple[str, str]]] = {
    "63": {
        "hanoi": ("01", "English name"),
        "hcm": ("79", "abbreviation"),
        "hcmc": ("79", "English abbreviation"),
        "saigon": ("79", "former name"),
        "haiphong": ("31", "English name"),
        "danang": ("48", "English name"),
        "thuathienhue": ("46", "former name (until 1 January 2025)"),
        "thuathien": ("46", "former name"),
        "cantho": ("92", "English name"),
        "canthon": ("92", "typo in the Open Development Vietnam layer"),
        "quanbinh": ("44", "typo in the Open Development Vietnam layer"),
        "brvt": ("77", "abbreviation"),
        "bariavungtau": ("77", "name"),
        "daklak": ("66", "name"),
        "darlac": ("66", "former name"),
        "daclac": ("66", "former spelling"),
        "daknong": ("67", "name"),
        "dacnong": ("67", "former spelling"),
        "daclak": ("66", "spelling"),
        "backan": ("06", "name"),
        "baccan": ("06", "spelling"),
        "kontum": ("62", "name"),
    },
    "34": {
        "hanoi": ("01", "English name"),
        "hcm": ("79", "abbreviation"),
        "hcmc": ("79", "English abbreviation"),
        "saigon": ("79", "former name"),
        "haiphong": ("31", "English name"),
        "danang": ("48", "English name"),
        "thuathienhue": ("46", "former name (until 1 January 2025)"),
        "cantho": ("92", "English name"),
        "canthon": ("92", "typo in the Open Development Vietnam layer"),
        "daklak": ("66", "name"),
        "darlac": ("66", "former name"),
        "daclak": ("66", "spelling"),
    },
}
