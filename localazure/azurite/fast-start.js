// Preloaded (NODE_OPTIONS=--require) into azurite-blob by localazure/azurite.
//
// Even with --disableTelemetry, Azurite loads its Application Insights client and the
// queue and table API specs its telemetry module reports on: over a second of a
// two-second start on a busy laptop. With --disableTelemetry none of it is ever
// called, so this puts a no-op module in its place in the require cache. Nothing
// else changes: the blob server, its handlers and its checks are Azurite's own.
"use strict";
const path = require("path");
const Module = require("module");

if (process.argv.includes("--disableTelemetry")) {
  const file = path.join(__dirname, "node_modules", "azurite", "dist", "src", "common", "Telemetry.js");
  const stub = new Module(file, module);
  stub.filename = file;
  stub.loaded = true;
  stub.exports = {
    AzuriteTelemetryClient: {
      init() {},
      TraceRequest() {},
      async TraceStartEvent() {},
      async TraceStopEvent() {},
    },
  };
  require.cache[file] = stub;
}
