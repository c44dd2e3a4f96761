package blobgate

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/contoso/orderflow/localazure/authz"
)

// access is what an operation needs, in terms of the built-in data roles.
type access int

const (
	accessRead   access = iota // Storage Blob Data Reader and above
	accessWrite                // Contributor and above
	accessDelete               // Contributor and above
	accessOwner                // only Storage Blob Data Owner (tags, ACLs, service properties)
)

// roles lists the built-in roles that grant a, as Azure's role definitions do:
// Reader holds blobs/read, Contributor adds write and delete, Owner holds blobs/*
// (tags included).
func (a access) roles() []string {
	switch a {
	case accessRead:
		return []string{authz.StorageBlobDataReader, authz.StorageBlobDataContributor, authz.StorageBlobDataOwner}
	case accessWrite, accessDelete:
		return []string{authz.StorageBlobDataContributor, authz.StorageBlobDataOwner}
	default:
		return []string{authz.StorageBlobDataOwner}
	}
}

// operation is one Blob REST call as the gate authorizes it.
type operation struct {
	name   string // the REST operation, for logs
	access access
	scope  string // storage or storage/<container>
}

// classify maps a request to its operation. path is the URL path with the account
// as the first segment (path-style, as Azurite serves on IP hosts). Every request
// gets an operation: an unknown one is authorized by its method, reads for GET and
// HEAD and writes otherwise, so that nothing new slips through unauthorized.
func classify(method, path string, q url.Values) operation {
	segs := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 3)
	container, blob := "", ""
	if len(segs) > 1 {
		container = segs[1]
	}
	if len(segs) > 2 {
		blob = segs[2]
	}
	restype, comp := strings.ToLower(param(q, "restype")), strings.ToLower(param(q, "comp"))
	read := method == http.MethodGet || method == http.MethodHead

	// Without restype=container, /<account>/<name> is a blob in the root container,
	// as Blob Storage resolves it.
	if container != "" && blob == "" && restype != "container" && restype != "account" && restype != "service" {
		container, blob = "$root", container
	}
	if container == "" || restype == "service" {
		return accountOperation(method, restype, comp, read)
	}
	scope := "storage/" + container
	if restype == "account" { // Get Account Information works on any path
		return operation{"GetAccountInformation", accessRead, scope}
	}
	if blob == "" {
		return containerOperation(method, comp, read, scope)
	}
	return blobOperation(method, comp, read, scope)
}

func accountOperation(method, restype, comp string, read bool) operation {
	const scope = "storage"
	switch {
	case comp == "list" && read:
		return operation{"ListContainers", accessRead, scope}
	case comp == "blobs" && read:
		return operation{"FindBlobsByTags", accessOwner, scope}
	case comp == "batch" && method == http.MethodPost:
		// Sub-requests (Delete Blob, Set Blob Tier) carry their own authorization and
		// are not read here: the batch needs what its sub-requests may need.
		return operation{"BlobBatch", accessDelete, scope}
	case restype == "service" && comp == "userdelegationkey" && method == http.MethodPost:
		return operation{"GetUserDelegationKey", accessRead, scope}
	case restype == "service" && comp == "properties" && !read:
		return operation{"SetBlobServiceProperties", accessOwner, scope}
	case read:
		return operation{"AccountRead", accessRead, scope} // service properties and stats, account information
	}
	return operation{"AccountWrite", accessOwner, scope}
}

func containerOperation(method, comp string, read bool, scope string) operation {
	switch {
	case comp == "list" && read:
		return operation{"ListBlobs", accessRead, scope}
	case comp == "blobs" && read:
		return operation{"FindBlobsByTags", accessOwner, scope}
	case comp == "acl":
		// Only the account owner reads or sets a container's stored access policies.
		return operation{"ContainerACL", accessOwner, scope}
	case comp == "batch" && method == http.MethodPost:
		return operation{"BlobBatch", accessDelete, scope}
	case read:
		return operation{"GetContainerProperties", accessRead, scope}
	case method == http.MethodDelete:
		return operation{"DeleteContainer", accessDelete, scope}
	case comp == "lease":
		return operation{"LeaseContainer", accessWrite, scope}
	case comp == "metadata":
		return operation{"SetContainerMetadata", accessWrite, scope}
	case comp == "":
		return operation{"CreateContainer", accessWrite, scope}
	}
	return operation{"ContainerWrite", accessWrite, scope}
}

func blobOperation(method, comp string, read bool, scope string) operation {
	switch {
	case comp == "tags":
		// blobs/tags/read and write are in Storage Blob Data Owner only.
		return operation{"BlobTags", accessOwner, scope}
	case read:
		return operation{"ReadBlob", accessRead, scope}
	case method == http.MethodDelete:
		return operation{"DeleteBlob", accessDelete, scope}
	case comp == "query" && method == http.MethodPost:
		return operation{"QueryBlobContents", accessRead, scope}
	case comp == "block":
		return operation{"PutBlock", accessWrite, scope}
	case comp == "blocklist":
		return operation{"PutBlockList", accessWrite, scope}
	case comp == "metadata":
		return operation{"SetBlobMetadata", accessWrite, scope}
	case comp == "lease":
		return operation{"LeaseBlob", accessWrite, scope}
	}
	return operation{"WriteBlob", accessWrite, scope}
}

// param reads a query parameter whatever the case of its name, so that no spelling
// the upstream might accept is classified as another operation.
func param(q url.Values, name string) string {
	if v, ok := q[name]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// copySourceScope is the scope a copy reads from when x-ms-copy-source names a blob
// of this account without a SAS (a SAS authorizes the read itself), or "".
func copySourceScope(source, account string) string {
	if source == "" {
		return ""
	}
	u, err := url.Parse(source)
	if err != nil || param(u.Query(), "sig") != "" {
		return ""
	}
	segs := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 3)
	if len(segs) < 3 || segs[0] != account || segs[1] == "" {
		return ""
	}
	c, err := url.PathUnescape(segs[1])
	if err != nil {
		return ""
	}
	return "storage/" + c
}
