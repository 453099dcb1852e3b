// Package browser tests GoMs's HTTP port from headless Chromium: streams
// a browser consumes (WebSocket, EventSource) and the pages GoMs serves.
// The tests skip without chromium unless GOMS_REQUIRE_TOOLS is set.
package browser
