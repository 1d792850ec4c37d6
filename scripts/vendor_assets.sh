#!/bin/sh
# Copy the Leaflet front-end files the map page needs from npm into static/vendor/.
# The copies are committed, so running the app needs no npm; rerun this after
# changing versions in package.json (then commit package-lock.json and static/vendor/).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# npm ci installs exactly what package-lock.json pins; fall back to npm install
# only when there is no lock file yet. --ignore-scripts: we only need the files.
if [ -f package-lock.json ]; then
    npm ci --ignore-scripts --no-audit --no-fund
else
    npm install --ignore-scripts --no-audit --no-fund
fi

LEAFLET=node_modules/leaflet
CLUSTER=node_modules/leaflet.markercluster
DEST=static/vendor

# Start from empty directories so files dropped upstream do not linger.
rm -rf "$DEST/leaflet" "$DEST/leaflet.markercluster"
mkdir -p "$DEST/leaflet/images" "$DEST/leaflet.markercluster"

# Leaflet: the minified build, its CSS and the images that CSS (and
# L.Icon.Default, which derives its path from the CSS) refers to.
cp "$LEAFLET/dist/leaflet.js" "$LEAFLET/dist/leaflet.css" "$LEAFLET/LICENSE" "$DEST/leaflet/"
for img in layers.png layers-2x.png marker-icon.png marker-icon-2x.png marker-shadow.png; do
    cp "$LEAFLET/dist/images/$img" "$DEST/leaflet/images/"
done

# Leaflet.markercluster: the minified build and both stylesheets (the
# Default one colours the cluster bubbles; neither refers to images).
cp "$CLUSTER/dist/leaflet.markercluster.js" \
   "$CLUSTER/dist/MarkerCluster.css" \
   "$CLUSTER/dist/MarkerCluster.Default.css" \
   "$CLUSTER/MIT-LICENCE.txt" \
   "$DEST/leaflet.markercluster/"

# The minified files end with a sourceMappingURL comment; the .map files are
# not shipped, so strip it to avoid 404s in browser developer tools.
for f in "$DEST/leaflet/leaflet.js" "$DEST/leaflet.markercluster/leaflet.markercluster.js"; do
    sed '/^\/\/# sourceMappingURL=/d' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
done

# Some npm tarballs mark files executable; static assets should not be.
find "$DEST/leaflet" "$DEST/leaflet.markercluster" -type f -exec chmod 644 {} +

echo "Vendored into $DEST:"
find "$DEST/leaflet" "$DEST/leaflet.markercluster" -type f | sort
