"""HTTP adapter: the JSON API and the public item pages printed on labels."""
