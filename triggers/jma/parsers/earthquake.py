"""VXSE51 震度速報, VXSE52 震源に関する情報, VXSE53 震源・震度に関する情報."""

from __future__ import annotations

from ..codes import INTENSITY_UNRECEIVED, Intensity
from ..errors import TelegramError
from ..events import AreaIntensity, CityIntensity, EarthquakeEvent, TelegramHead
from .common import (
    SEISMOLOGY,
    Element,
    body,
    child,
    children,
    hypocentre_of,
    magnitude_of,
    optional_datetime,
    text,
)

_NEEDS_HYPOCENTRE = frozenset({"VXSE52", "VXSE53"})


def parse(root: Element, head: TelegramHead) -> EarthquakeEvent:
    content = body(root, SEISMOLOGY)
    earthquake = child(content, SEISMOLOGY, "Earthquake")
    observation = child(content, SEISMOLOGY, "Intensity", "Observation")
    if head.type_code in _NEEDS_HYPOCENTRE and earthquake is None:
        raise TelegramError(f"{head.type_code}: Body/Earthquake がありません (missing Earthquake)")
    if head.type_code == "VXSE51" and observation is None:
        raise TelegramError("VXSE51: Body/Intensity がありません (missing Intensity)")
    areas, cities = _intensities(observation)
    declared_max = Intensity.from_code(text(observation, SEISMOLOGY, "MaxInt"))
    observed = [a.max_intensity for a in areas if a.max_intensity is not None]
    comments = child(content, SEISMOLOGY, "Comments")
    codes = text(comments, SEISMOLOGY, "ForecastComment", "Code") or ""
    return EarthquakeEvent(
        origin_time=optional_datetime(text(earthquake, SEISMOLOGY, "OriginTime"), "OriginTime"),
        arrival_time=optional_datetime(text(earthquake, SEISMOLOGY, "ArrivalTime"), "ArrivalTime"),
        hypocentre=hypocentre_of(earthquake, SEISMOLOGY),
        magnitude=magnitude_of(earthquake),
        max_intensity=declared_max or max(observed, default=None),
        areas=areas,
        cities=cities,
        forecast_comment=text(comments, SEISMOLOGY, "ForecastComment", "Text"),
        forecast_comment_codes=tuple(codes.split()),
        var_comment=text(comments, SEISMOLOGY, "VarComment", "Text"),
        free_comment=text(comments, SEISMOLOGY, "FreeFormComment"),
    )


def _unreceived(element: Element) -> bool:
    return text(element, SEISMOLOGY, "Condition") == INTENSITY_UNRECEIVED


def _intensities(observation: Element | None) -> tuple[tuple[AreaIntensity, ...], tuple[CityIntensity, ...]]:
    areas: list[AreaIntensity] = []
    cities: list[CityIntensity] = []
    for pref in children(observation, SEISMOLOGY, "Pref"):
        pref_code = text(pref, SEISMOLOGY, "Code") or ""
        pref_name = text(pref, SEISMOLOGY, "Name") or ""
        for area in children(pref, SEISMOLOGY, "Area"):
            area_code = text(area, SEISMOLOGY, "Code") or ""
            area_cities = [
                CityIntensity(
                    code=text(city, SEISMOLOGY, "Code") or "",
                    name=text(city, SEISMOLOGY, "Name") or "",
                    area_code=area_code,
                    pref_code=pref_code,
                    max_intensity=Intensity.from_code(text(city, SEISMOLOGY, "MaxInt")),
                    intensity_unreceived=_unreceived(city),
                )
                for city in children(area, SEISMOLOGY, "City")
            ]
            cities.extend(area_cities)
            areas.append(
                AreaIntensity(
                    code=area_code,
                    name=text(area, SEISMOLOGY, "Name") or "",
                    pref_code=pref_code,
                    pref_name=pref_name,
                    max_intensity=Intensity.from_code(text(area, SEISMOLOGY, "MaxInt")),
                    # An area whose only report is an unreceived city carries no MaxInt itself.
                    intensity_unreceived=_unreceived(area)
                    or any(c.intensity_unreceived for c in area_cities),
                )
            )
    return tuple(areas), tuple(cities)
