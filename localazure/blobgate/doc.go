// Package blobgate puts Azure Storage's Microsoft Entra authorization in front of
// Azurite. Azurite, started with `--oauth basic`, accepts any well-shaped bearer token
// (it checks neither the signature nor any role), so on its own the local Blob
// endpoint would let every workload do everything. The gate is a streaming reverse
// proxy: it verifies each bearer token against the local Entra's keys (authz), maps
// the Blob REST operation to the data action it needs, checks the role assignments
// (Storage Blob Data Reader, Contributor, Owner) at the container's scope, and then
// forwards the request to Azurite unchanged. Shared Key and SAS requests are passed
// through for Azurite to check, as are anonymous ones (public access is Azurite's).
//
// Refusals are answered as Blob Storage answers them: 401 InvalidAuthenticationInfo
// with a Bearer challenge, 403 AuthorizationPermissionMismatch, each with the
// service's XML error body and x-ms-error-code.
package blobgate
