// Package identity is the workload identity panel's one shape, shared by both
// services: the frontend serves it at GET /api/identity, the backend at GET
// /identity on its health port. A View is what the workload identity webhook
// injected (client ID, tenant, authority), what the projected service-account
// token says (issuer, subject, audience, expiry; never the token), the dependency
// checks of platform/health, and the permissions platform/doctor's read-only
// probes observe, cached so that the panel never hammers the services.
package identity
