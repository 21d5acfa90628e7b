"""Derive data/sample/units.csv (Đà Nẵng's 94 units) from the shared reference files; run once, commit the output."""

from __future__ import annotations

import argparse
import csv
import json
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = ROOT.parent / "shared"
KIND_BY_PREFIX = {"Phường ": "phuong", "Xã ": "xa", "Đặc khu ": "dac_khu"}
EN_SUFFIX = {"phuong": "Ward", "xa": "Commune", "dac_khu": "Special Zone"}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def build_units(shared: Path) -> list[dict[str, object]]:
    reference = shared / "reference" / "danang_communes_2025.csv"
    wards_csv = shared / "data" / "real" / "vn-admin-2025" / "vn_wards_2025.csv"
    geojson = shared / "data" / "real" / "vn-admin-2025" / "danang_wards_94_2025.geojson"
    with wards_csv.open(encoding="utf-8") as handle:
        wards = {row["ward_code"]: row for row in csv.DictReader(handle)}
    with geojson.open(encoding="utf-8") as handle:
        areas = {f["properties"]["code"]: f["properties"]["areaKm2"] for f in json.load(handle)["features"]}
    units: list[dict[str, object]] = []
    with reference.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["ma_xa"].strip()
            full_name = nfc(row["ten"])
            kind = row["loai"].strip()
            prefix = next(p for p, k in KIND_BY_PREFIX.items() if k == kind)
            if not full_name.startswith(prefix):
                raise SystemExit(f"{code}: name {full_name!r} does not start with {prefix!r}")
            ward = wards.get(code)
            if ward is None or ward["province_code"] != row["tinh_ma"]:
                raise SystemExit(f"{code}: not a province-{row['tinh_ma']} ward in vn_wards_2025.csv")
            units.append(
                {
                    "unit_code": code,
                    "name": full_name[len(prefix) :],
                    "full_name": full_name,
                    "name_en": f"{ward['name_en']} {EN_SUFFIX[kind]}",
                    "kind": kind,
                    "province_code": row["tinh_ma"].strip(),
                    "merged_from": nfc(row["sap_xep_tu (ten cu (ma cu))"]),
                    "area_km2": areas[code],
                }
            )
    if len(units) != 94:
        raise SystemExit(f"expected 94 Đà Nẵng units, found {len(units)}")
    return units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="path of the shared/ folder")
    args = parser.parse_args()
    units = build_units(args.shared)
    out = ROOT / "data" / "sample" / "units.csv"
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(units[0]))
        writer.writeheader()
        writer.writerows(units)
    print(f"wrote {len(units)} units to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
