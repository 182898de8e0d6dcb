"""Every text the app shows, in Vietnamese (the default: provinces are the main audience) and
English. Pages look texts up by key with :func:`tr`; no page carries its own literals, so a
missing translation is one place to fix (and a test checks both languages have every key).

Data from the store (target titles, source citations, method notes) is shown as the store
gives it; the default targets' titles have translations here, keyed by target id, and any other
target shows its own title.
"""

from __future__ import annotations

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
LANG_NAMES = {"vi": "Tiếng Việt", "en": "English"}

TEXTS: dict[str, tuple[str, str]] = {
    # (Vietnamese, English)
    "app.title": ("Băng rộng Việt Nam: phủ sóng và khoảng cách tới mục tiêu",
                  "Vietnam broadband: coverage and gaps to the national targets"),
    "app.page_title": ("Phủ sóng băng rộng Việt Nam", "Vietnam broadband coverage"),
    "lang.label": ("Ngôn ngữ / Language", "Ngôn ngữ / Language"),
    "view.label": ("Trang", "Page"),
    "view.national": ("Toàn quốc", "National"),
    "view.province": ("Tỉnh/thành", "Province"),
    "view.operator": ("Nhà mạng: lớp khoảng trống", "Operator: gap layers"),
    "scheme.label": ("Đơn vị hành chính", "Administrative units"),
    "scheme.63": ("63 tỉnh/thành (trước 1/7/2025)", "63 provinces (before 1 July 2025)"),
    "scheme.34": ("34 tỉnh/thành (từ 1/7/2025)", "34 provinces (from 1 July 2025)"),
    "scheme.help": ("Các mục tiêu 2025 được đặt trên bản đồ 63 tỉnh; từ 1/7/2025 cả nước có 34 tỉnh/thành.",
                    "The 2025 targets were set on the 63-province map; since 1 July 2025 there are 34."),
    "indicator.label": ("Chỉ tiêu", "Indicator"),
    "indicator.households": ("Hộ gia đình được phủ (%)", "Households covered (%)"),
    "indicator.villages": ("Thôn/bản được phủ (%)", "Villages covered (%)"),
    "indicator.households_5g": ("Hộ gia đình có 5G (%)", "Households with 5G (%)"),
    "target.label": ("Mục tiêu", "Target"),
    "tech.label": ("Công nghệ", "Technology"),
    "tech.any": ("Bất kỳ (cố định hoặc di động)", "Any (fixed or mobile)"),
    "tech.fixed": ("Cố định (cáp quang/cáp)", "Fixed (fibre/cable)"),
    "tech.mobile": ("Di động (4G/5G)", "Mobile (4G/5G)"),
    "tech.4G": ("4G", "4G"),
    "tech.5G": ("5G", "5G"),
    "tech.help": ("Mạng được tính khi đo phủ sóng; mặc định là mạng mà mục tiêu tính.",
                  "Which networks count as coverage; by default the ones the target counts."),
    "operator.label": ("Nhà mạng", "Operator"),
    "operator.all": ("Tất cả nhà mạng", "All operators"),
    "province.label": ("Tỉnh/thành", "Province"),
    "province.show_covered": ("Hiện cả thôn/bản đã được phủ", "Show covered villages too"),
    "province.show_sites": ("Hiện trạm phát sóng", "Show mobile sites"),
    "province.no_sites": ("Kho kết quả này không có danh sách trạm.", "This results store has no site list."),
    "build.running": ("Đang tính kết quả từ kịch bản minh hoạ (chỉ lần đầu)…",
                      "Computing results from the demo scenario (first start only)…"),
    "build.done": ("Đã tính xong kết quả minh hoạ", "Demo results ready"),
    "build.step": ("Bước: {step}", "Step: {step}"),
    "store.problem": ("Không dùng được kho kết quả: {message}", "Cannot use the results store: {message}"),
    "banner.synthetic": ("**Dữ liệu minh hoạ (tổng hợp), không phải số liệu thật.** {name}. "
                         "Không dùng để ra quyết định.",
                         "**Synthetic demo data, not real figures.** {name}. Do not use it for decisions."),
    "banner.approximate": ("Ranh giới **gần đúng** (dựng từ tâm xã, không chính thức): {layers}.",
                           "Boundaries are **approximate** (built from commune centres, not official): {layers}."),
    "layer.provinces": ("tỉnh/thành", "provinces"),
    "layer.communes": ("xã/phường", "communes"),
    # national view
    "national.heading": ("Toàn quốc, {n} tỉnh/thành", "Whole country, {n} provinces"),
    "target.caption": ("Mục tiêu: {title} ({cmp} {threshold}, hạn {deadline}). Nguồn: {source}. "
                       "Đo trên: {layer}.",
                       "Target: {title} ({cmp} {threshold}, by {deadline}). Source: {source}. "
                       "Measured on: {layer}."),
    "metric.households": ("Hộ được phủ", "Households covered"),
    "metric.villages": ("Thôn/bản được phủ", "Villages covered"),
    "metric.gap_households": ("Số hộ còn thiếu để đạt mục tiêu", "Households still to cover"),
    "metric.gap_villages": ("Số thôn/bản còn thiếu để đạt mục tiêu", "Villages still to cover"),
    "metric.units_met": ("Tỉnh/thành đạt mục tiêu", "Provinces meeting the target"),
    "metric.rank": ("Xếp hạng ({indicator})", "Rank ({indicator})"),
    "metric.rank_value": ("{rank} / {n}", "{rank} of {n}"),
    "metric.value_vs_target": ("{value} (mục tiêu {cmp} {threshold})", "{value} (target {cmp} {threshold})"),
    "metric.status_met": ("Đạt: {value} (mục tiêu {cmp} {threshold})", "Met: {value} (target {cmp} {threshold})"),
    "metric.status_gap": ("Chưa đạt: {value}, còn thiếu {pp}", "Not met: {value}, {pp} short"),
    "metric.met": ("Đạt", "Met"),
    "metric.not_met": ("Chưa đạt", "Not met"),
    "metric.of_total": ("{covered} / {total}", "{covered} of {total}"),
    "map.legend": ("Khoảng cách tới mục tiêu {cmp} {threshold}:", "Distance to the target {cmp} {threshold}:"),
    "map.legend_below": ("dưới mục tiêu", "below target"),
    "map.legend_met": ("đạt mục tiêu", "target met"),
    "map.no_data": ("không có hộ", "no households"),
    "map.attribution_official": ("Ranh giới {level}: Open Development Vietnam (CC BY-SA 4.0)",
                                 "Boundaries ({level}): Open Development Vietnam (CC BY-SA 4.0)"),
    "map.attribution_approximate": ("Ranh giới {level}: gần đúng (vietnamadminunits, MIT)",
                                    "Boundaries ({level}): approximate (vietnamadminunits, MIT)"),
    "map.click_hint": ("Bấm vào một tỉnh trên bản đồ để mở trang của tỉnh đó.",
                       "Click a province on the map to open its page."),
    "tooltip.name": ("Tên", "Name"),
    "tooltip.value": ("Chỉ tiêu", "Indicator"),
    "tooltip.households": ("Hộ được phủ / tổng", "Households covered / total"),
    "tooltip.villages": ("Thôn/bản được phủ / tổng", "Villages covered / total"),
    "tooltip.gap": ("Khoảng cách tới mục tiêu", "Gap to target"),
    "tooltip.gap_text": ("{status}; còn {gap} {unit} ({pp})", "{status}; {gap} {unit} to go ({pp})"),
    "unit.households": ("hộ", "households"),
    "unit.villages": ("thôn/bản", "villages"),
    "ranking.title": ("Xếp hạng các tỉnh/thành so với mục tiêu", "Provinces ranked against the target"),
    "ranking.value": ("Chỉ tiêu (%)", "Indicator (%)"),
    "ranking.target": ("Mục tiêu", "Target"),
    "smart.title": ("Đô thị thông minh có 5G", "Smart cities with 5G"),
    "smart.summary": ("{count} / {needed} đô thị đạt ({status}); quy tắc: {rule}.",
                      "{count} of {needed} cities count ({status}); rule: {rule}."),
    "smart.region": ("Vùng kinh tế trọng điểm", "Key economic region"),
    "smart.candidates": ("Thành phố ứng viên", "Candidate cities"),
    "smart.with_5g": ("Đạt 5G", "With 5G"),
    "smart.none": ("chưa có", "none yet"),
    "region.north": ("Miền Bắc", "North"),
    "region.central": ("Miền Trung", "Central"),
    "region.south": ("Miền Nam", "South"),
    "five_g.provinces": ("Tỉnh/thành có trạm 5G (bản đồ {n} tỉnh)", "Provinces with 5G sites ({n}-province map)"),
    "table.provinces": ("Bảng số liệu các tỉnh/thành", "Table of provinces"),
    # province view
    "province.heading": ("{name}", "{name}"),
    "province.gaps": ("Khoảng cách tới từng mục tiêu", "Gap to each target"),
    "province.communes": ("Các xã/phường", "Communes"),
    "province.uncovered": ("Thôn/bản chưa được phủ ({layer})", "Villages not covered ({layer})"),
    "province.uncovered_count": ("{n} thôn/bản, {hh} hộ", "{n} villages, {hh} households"),
    "province.none_uncovered": ("Mọi thôn/bản của tỉnh đều được phủ bởi lớp này.",
                                "Every village of the province is covered by this layer."),
    "province.villages_legend": ("Điểm: đỏ = thôn/bản chưa được phủ, xanh = đã được phủ, tím = trạm.",
                                 "Points: red = village not covered, green = covered, purple = site."),
    "col.code": ("Mã", "Code"),
    "col.name": ("Tên", "Name"),
    "col.commune": ("Xã/phường", "Commune"),
    "col.households": ("Số hộ", "Households"),
    "col.households_covered": ("Hộ được phủ", "Households covered"),
    "col.households_pct": ("Hộ được phủ (%)", "Households covered (%)"),
    "col.villages": ("Số thôn/bản", "Villages"),
    "col.villages_covered": ("Thôn/bản được phủ", "Villages covered"),
    "col.villages_pct": ("Thôn/bản được phủ (%)", "Villages covered (%)"),
    "col.value": ("Chỉ tiêu (%)", "Indicator (%)"),
    "col.gap": ("Còn thiếu để đạt mục tiêu", "Still to cover for the target"),
    "col.gap_pp": ("Thiếu (điểm %)", "Gap (pp)"),
    "col.met": ("Đạt", "Met"),
    "col.target": ("Mục tiêu", "Target"),
    "col.threshold": ("Ngưỡng", "Threshold"),
    "col.deadline": ("Hạn", "Deadline"),
    "col.gap_households": ("Hộ còn thiếu", "Households to go"),
    "col.gap_villages": ("Thôn/bản còn thiếu", "Villages to go"),
    "col.network": ("Mạng được tính", "Networks counted"),
    "col.source": ("Văn bản", "Document"),
    "col.village_id": ("Mã thôn/bản", "Village id"),
    "col.operators": ("Số nhà mạng di động tới được", "Mobile operators reaching it"),
    "col.lon": ("Kinh độ", "Longitude"),
    "col.lat": ("Vĩ độ", "Latitude"),
    "col.rank": ("Hạng", "Rank"),
    "col.site": ("Trạm", "Site"),
    "col.radius": ("Bán kính phục vụ", "Service radius"),
    "download.csv": ("Tải CSV", "Download CSV"),
    "download.xlsx": ("Tải Excel", "Download Excel"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    # operator view
    "export.heading": ("Lớp khoảng trống cho nhà mạng", "Gap layers for operators"),
    "export.provinces": ("Tỉnh/thành (để trống = cả nước)", "Provinces (empty = whole country)"),
    "export.layer": ("Lớp", "Layer"),
    "export.layer.uncovered-villages": ("Thôn/bản chưa được phủ (điểm)", "Uncovered villages (points)"),
    "export.layer.uncovered-households": ("Cụm hộ chưa được phủ (vùng)", "Uncovered household clusters (areas)"),
    "export.layer.coverage": ("Phủ sóng theo xã/phường (vùng)", "Coverage by commune (areas)"),
    "export.format": ("Định dạng", "Format"),
    "export.format.gpkg": ("GeoPackage (.gpkg)", "GeoPackage (.gpkg)"),
    "export.format.geojson": ("GeoJSON (.geojson)", "GeoJSON (.geojson)"),
    "export.format.shp": ("Shapefile (.zip)", "Shapefile (.zip)"),
    "export.format.csv": ("CSV (.csv)", "CSV (.csv)"),
    "export.format.xlsx": ("Excel (.xlsx)", "Excel (.xlsx)"),
    "export.download": ("Tải lớp {layer} ({fmt})", "Download {layer} ({fmt})"),
    "export.summary": ("{n} đối tượng; {hh} hộ chưa được phủ.", "{n} features; {hh} uncovered households."),
    "export.summary_units": ("{n} đối tượng.", "{n} features."),
    "export.unavailable": ("Chức năng xuất lớp (coverage.export) chưa có trong phiên bản này.",
                           "Exporting (coverage.export) is not available in this version."),
    "export.empty": ("Lớp này trống với lựa chọn hiện tại.", "The layer is empty for this choice."),
    "export.preview_limit": ("Bản đồ xem trước hiện {shown} / {n} đối tượng (lớn nhất trước); tệp tải về có đủ.",
                             "The preview shows {shown} of {n} features (largest first); the download has all."),
    "export.same_as_cli": ("Cùng tệp như lệnh `vnbb export`.", "The same files as `vnbb export` writes."),
    # sources
    "sources.title": ("Nguồn dữ liệu", "Sources"),
    "sources.scenario": ("Kịch bản: {name}, số liệu tính đến {as_of}; kết quả tính lúc {built_at}.",
                         "Scenario: {name}, data as of {as_of}; results computed {built_at}."),
    "sources.item": ("{file} ({provenance}, {as_of}): {citation}", "{file} ({provenance}, {as_of}): {citation}"),
    "sources.boundaries": ("Ranh giới: {text}", "Boundaries: {text}"),
    "sources.targets": ("Mục tiêu: {docs}", "Targets: {docs}"),
    "sources.rule": ("Quy tắc thôn/bản được phủ: {rule}", "Village rule: {rule}"),
    "sources.method": ("Phương pháp tính", "Method"),
    "sources.basemap": ("Nền bản đồ: OpenStreetMap khi có mạng, nền trơn khi không.",
                        "Basemap: OpenStreetMap when online, a plain background otherwise."),
    # progress view
    "view.progress": ("Tiến độ theo thời gian", "Progress over time"),
    "progress.heading": ("Tiến độ qua các kỳ số liệu", "Progress over snapshots"),
    "progress.synthetic": ("**Chuỗi số liệu minh hoạ (tổng hợp), không phải số liệu thật.** Các quý trước được "
                           "suy ra từ kịch bản minh hoạ; không dùng để ra quyết định.",
                           "**Synthetic demo history, not real figures.** The earlier quarters are derived from "
                           "the demo scenario; do not use them for decisions."),
    "progress.building": ("Đang dựng chuỗi số liệu minh hoạ theo quý (chỉ lần đầu, khoảng một phút)…",
                          "Building the demo's synthetic quarterly history (first visit only, about a minute)…"),
    "progress.built": ("Đã dựng xong chuỗi số liệu minh hoạ", "Synthetic history ready"),
    "progress.db_problem": ("Không mở được cơ sở dữ liệu các kỳ số liệu: {message}",
                            "Cannot open the snapshots database: {message}"),
    "progress.none": ("Chưa có kỳ số liệu nào (chuỗi {series}). Mỗi lần `vnbb build` ghi một kỳ; "
                      "có thể thêm bằng `vnbb snapshot add --store STORE`.",
                      "No snapshots yet (series {series}). Every `vnbb build` records one; "
                      "add one with `vnbb snapshot add --store STORE`."),
    "progress.series": ("Chuỗi số liệu", "Series"),
    "progress.snapshots": ("{n} kỳ số liệu, từ {first} đến {last}.", "{n} snapshots, from {first} to {last}."),
    "progress.area": ("Khu vực", "Area"),
    "progress.nation": ("Toàn quốc", "Whole country"),
    "progress.chart_title": ("{area}: phủ sóng qua các kỳ ({layer})", "{area}: coverage over snapshots ({layer})"),
    "progress.chart_households": ("Hộ được phủ (%)", "Households covered (%)"),
    "progress.chart_villages": ("Thôn/bản được phủ (%)", "Villages covered (%)"),
    "progress.axis_date": ("Số liệu tính đến", "As of"),
    "progress.observed": ("Số liệu", "Observed"),
    "progress.projected": ("Dự báo theo tốc độ gần đây", "Projected at the recent pace"),
    "progress.deadline": ("Hạn {date}", "Deadline {date}"),
    "progress.chart_legend": ("Đường liền: số liệu từng kỳ; nét đứt cam: dự báo theo tốc độ gần đây; "
                              "đường ngang: mục tiêu; vạch dọc đỏ: hạn.",
                              "Solid line: observed; dashed orange: projection at the recent pace; "
                              "horizontal lines: targets; red vertical lines: deadlines."),
    "progress.targets_all_operators": ("Các mục tiêu tính mọi nhà mạng: đường mục tiêu chỉ hiện khi chọn tất cả "
                                       "nhà mạng.",
                                       "Targets count every operator: their lines show with all operators only."),
    "progress.outlook": ("Khi nào đạt từng mục tiêu, theo tốc độ gần đây?",
                         "When is each target reached, at the recent pace?"),
    "progress.no_targets": ("Không có mục tiêu về tỷ lệ hộ hoặc thôn/bản để dự báo.",
                            "No households or villages target to project against."),
    "progress.rule_title": ("Cách dự báo", "How the projection is made"),
    "progress.rule": (
        "- **Tốc độ**: độ dốc bình phương tối thiểu của chỉ tiêu (điểm % mỗi năm) qua {window} kỳ số liệu gần nhất "
        "của khu vực (hoặc mọi kỳ nếu ít hơn); cần ít nhất hai kỳ ở hai ngày khác nhau.\n"
        "- **Dự báo**: từ giá trị mới nhất, theo tốc độ đó, giới hạn trong 0–100 %.\n"
        "- **Đạt vào**: ngày dự báo đạt ngưỡng mục tiêu; “đã đạt” nếu kỳ mới nhất đã đạt; “không đạt với tốc độ "
        "này” khi tốc độ bằng 0 hoặc âm.\n"
        "- **Tại hạn**: giá trị dự báo vào ngày hạn; với hạn đã qua, dùng số liệu của kỳ cuối cùng trước hoặc "
        "đúng hạn.\n"
        "- **Không đạt đúng hạn**: giá trị tại hạn không đạt mục tiêu.\n\n"
        "Đây là ngoại suy đường thẳng, không phải kế hoạch: nó cho biết nếu giữ nhịp hiện nay thì sao.",
        "- **Pace**: the least-squares slope of the indicator (percentage points per year) over the area's "
        "last {window} snapshots (all of them when fewer); it needs two snapshots on different dates.\n"
        "- **Projection**: from the latest observed value, at that pace, capped to 0–100 %.\n"
        "- **Reached on**: the date the projection meets the target's threshold; “already met” when the "
        "latest snapshot meets it; “not at this pace” when the pace is zero or negative.\n"
        "- **At the deadline**: the projected value on the deadline; for a deadline already passed, the "
        "observed value of the last snapshot on or before it.\n"
        "- **Will miss**: the value at the deadline does not meet the target.\n\n"
        "A straight-line extrapolation, not a plan: it says where the current pace leads."),
    "progress.already_met": ("đã đạt", "already met"),
    "progress.never": ("không đạt với tốc độ này", "not at this pace"),
    "progress.no_pace": ("cần ít nhất hai kỳ", "needs two snapshots"),
    "progress.observed_value": ("{value} (số liệu)", "{value} (observed)"),
    "progress.misses": ("Tỉnh/thành dự báo không đạt mục tiêu đúng hạn", "Provinces projected to miss a deadline"),
    "progress.misses_count": ("{n} / {total} tỉnh/thành dự báo không đạt trước hạn {deadline}.",
                              "{n} of {total} provinces are projected to miss the {deadline} deadline."),
    "progress.misses_none": ("Theo tốc độ gần đây, mọi tỉnh/thành đều đạt mục tiêu này đúng hạn.",
                             "At the recent pace every province meets this target in time."),
    "progress.changes": ("Những gì đã thay đổi giữa hai kỳ", "What changed between two snapshots"),
    "progress.one_snapshot": ("Cần ít nhất hai kỳ số liệu để so sánh.", "Comparing needs at least two snapshots."),
    "progress.from": ("Từ kỳ", "From"),
    "progress.to": ("Đến kỳ", "To"),
    "progress.same_snapshot": ("Hãy chọn hai kỳ khác nhau.", "Choose two different snapshots."),
    "progress.synthetic_tag": ("tổng hợp", "synthetic"),
    "progress.village_lists_differ": ("{a} thôn/bản chỉ có ở kỳ đầu và {b} chỉ có ở kỳ sau: không được so sánh.",
                                      "{a} villages are listed only in the first snapshot and {b} only in the "
                                      "second: they are not compared."),
    "progress.changes_summary": ("Thôn/bản mới được phủ và mất phủ theo công nghệ và nhà mạng ({area}):",
                                 "Villages newly covered and lost, per technology and operator ({area}):"),
    "progress.changes_layer": ("Bản đồ và danh sách cho lớp: {layer}", "Map and list for the layer: {layer}"),
    "progress.changes_legend": ("Điểm: xanh = thôn/bản mới được phủ, đỏ = mất phủ.",
                                "Points: green = village newly covered, red = coverage lost."),
    "progress.changes_nation_legend": ("Màu: số thôn/bản tăng ròng của tỉnh (xanh đậm dần: tăng nhiều hơn; "
                                       "đỏ: giảm). Chọn một tỉnh để xem từng thôn/bản.",
                                       "Colour: the province's net villages gained (darker green: more; red: "
                                       "fewer). Choose a province to see each village."),
    "progress.changes_none": ("Không có thôn/bản nào thay đổi với lớp này.", "No village changed for this layer."),
    "change.gained": ("mới được phủ", "newly covered"),
    "change.lost": ("mất phủ", "lost"),
    "col.latest": ("Mới nhất", "Latest"),
    "col.pace": ("Tốc độ (điểm %/năm)", "Pace (pp/year)"),
    "col.reached_on": ("Đạt vào", "Reached on"),
    "col.at_deadline": ("Tại hạn", "At the deadline"),
    "col.will_meet": ("Đạt đúng hạn", "Met by the deadline"),
    "col.shortfall": ("Thiếu tại hạn", "Short at the deadline"),
    "col.gained": ("Mới được phủ", "Newly covered"),
    "col.lost": ("Mất phủ", "Lost"),
    "col.net": ("Tăng ròng", "Net"),
    "col.households_gained": ("Hộ ở thôn/bản mới được phủ", "Households in villages newly covered"),
    "col.households_lost": ("Hộ ở thôn/bản mất phủ", "Households in villages lost"),
    "col.change": ("Thay đổi", "Change"),
    "provenance.official": ("chính thức", "official"),
    "provenance.declared": ("tự khai", "declared"),
    "provenance.modelled": ("mô hình", "modelled"),
    "provenance.measured": ("đo đạc", "measured"),
    "provenance.synthetic": ("tổng hợp", "synthetic"),
}

TARGET_TITLES_VI = {
    "2289-households-2025": "Hộ gia đình được phủ hạ tầng mạng băng rộng",
    "2289-villages-2025": "Thôn/bản được phủ hạ tầng mạng băng rộng",
    "2289-smart-cities-5g-2025": "Đô thị thông minh có 5G, mỗi vùng kinh tế trọng điểm một đô thị",
    "2289-universal-2030": "Phổ cập băng rộng (hộ gia đình)",
    "2289-universal-5g-2030": "Phổ cập 5G (hộ gia đình)",
    "36-fibre-households-2025": "Hộ gia đình có thể dùng cáp quang khi có nhu cầu",
    "36-fixed-villages-2025": "Băng rộng cố định tới mọi thôn/bản",
    "1132-5g-provinces-2025": "5G tại mọi tỉnh/thành",
    "1132-5g-population-2030": "5G tới 99 % dân số (tính theo hộ)",
}


def tr(key: str, lang: str, **values: object) -> str:
    """The text of ``key`` in ``lang`` with ``values`` filled in (the key itself if unknown)."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    text = pair[0] if lang == "vi" else pair[1]
    return text.format(**values) if values else text


def target_title(target: dict, lang: str) -> str:
    """A target's title in the language when known, else the store's own title."""
    if lang == "vi" and target["id"] in TARGET_TITLES_VI:
        return TARGET_TITLES_VI[target["id"]]
    return str(target.get("title") or target["id"])


def comparison(sign: str) -> str:
    """A target's comparison as readers write it ("> 80 %", "≥ 100 %")."""
    return {">": ">", ">=": "≥"}.get(sign, sign)
