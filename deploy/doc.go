// Package deploy holds the Kubernetes manifests (base/, components/, overlays/) and
// the tests that check them, the Dockerfiles, docker-compose.yaml, the scripts and the
// Bicep templates against each other and against docs/names.md. It has no runtime code.
package deploy
