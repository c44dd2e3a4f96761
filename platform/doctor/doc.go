// Package doctor diagnoses a service's Microsoft Entra Workload ID chain where the
// service runs: the variables the webhook injects, the service's own configuration,
// the projected service-account token, the token exchange with Entra, and each
// data-plane permission the service needs. It is the `frontend doctor` and
// `backend doctor` subcommand: every link is a row with its status and, when it is
// broken, the fix (which Bicep file, annotation or label to change), so that an
// operator can read the cause instead of guessing from a 403 in the logs.
//
// It builds the credential and the clients with platform/azure exactly as the
// service does, so a row that is ok here is ok for the service. Probes read things
// that do not exist (a 404 proves reachability and permission) and write only with
// --write, and then only a probe blob that is deleted or a Service Bus message that
// is scheduled far ahead and cancelled at once.
package doctor
