"""Statistics without personal data: charts and a CSV export."""
