"""The partner directory: listings, search and the map."""
