"""Pure alarm decisions shared by offline evaluation and the live system: risk levels, the alarm
decision of a zone and SCD41 sensor supervision (DESIGN 4.5)."""
