// Package integration holds the integration tests of the platform adapters: each runs
// the real Azure SDK clients, built by platform/azure from a workload's environment,
// against the local stand-ins that localazure/stack starts in TestMain, through the
// real workload identity token exchange and role assignments of localazure.json.
package integration
