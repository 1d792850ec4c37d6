"""Geography: offline gazetteer, geocoding (gazetteer first, Nominatim when configured) and distances."""
