// Package interop holds no code: its tests drive the official Azure SDKs for
// JavaScript (pinned in package.json, installed with npm ci) against the local
// stand-ins started in-process by localazure/stack, to prove that clients in another
// language than Go speak to them as they speak to Azure.
package interop
