package stack_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/contoso/orderflow/localazure/authz"
)

const storageScope = "https://storage.azure.com/.default"

// blobEndpoint is the Blob endpoint the workloads get, or a skip without Azurite.
func blobEndpoint(t *testing.T) string {
	t.Helper()
	ep := st.Env("frontend")["STORAGE_BLOB_ENDPOINT"]
	if ep == "" {
		t.Skip("Azurite is not installed (scripts/install-test-deps.sh installs it); skipped in -short mode")
	}
	return ep
}

func blobClient(t *testing.T, cred azcore.TokenCredential) *azblob.Client {
	t.Helper()
	c, err := azblob.NewClient(blobEndpoint(t), cred, &azblob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: httpClient()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sharedKeyClient(t *testing.T) *azblob.Client {
	t.Helper()
	blobEndpoint(t)
	c, err := azblob.NewClientFromConnectionString(st.Endpoints().BlobConnectionString, &azblob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: httpClient()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantRefused checks that err is Blob Storage's answer with this status and code.
func wantRefused(t *testing.T, what string, err error, status int, code bloberror.Code) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != status || !bloberror.HasCode(err, code) {
		t.Errorf("%s: got %v, want %d %s", what, err, status, code)
	}
}

// The roles of localazure.json, per container, as the workloads meet them: the
// backend writes receipts and only reads attachments, the frontend the other way round.
func TestBlobRolesPerWorkload(t *testing.T) {
	ctx := testCtx(t)
	backend := blobClient(t, credentialFromEnv(t, "backend"))
	frontend := blobClient(t, credentialFromEnv(t, "frontend"))
	receipt := []byte(`{"orderId":"o-roles","signature":"c2ln"}`)

	up, err := backend.UploadBuffer(ctx, "receipts", "o-roles.json", receipt, nil)
	if err != nil {
		t.Fatalf("backend writes a receipt (Contributor on receipts): %v", err)
	}
	res, err := frontend.DownloadStream(ctx, "receipts", "o-roles.json", nil)
	if err != nil {
		t.Fatalf("frontend reads a receipt (Reader on receipts): %v", err)
	}
	if got := readAll(t, res.Body); !bytes.Equal(got, receipt) || *res.ETag != *up.ETag {
		t.Fatalf("frontend read %q etag %v, want %q etag %v", got, *res.ETag, receipt, *up.ETag)
	}
	pager := frontend.NewListBlobsFlatPager("receipts", nil)
	page, err := pager.NextPage(ctx)
	if err != nil {
		t.Fatalf("frontend lists receipts (Reader): %v", err)
	}
	found := false
	for _, b := range page.Segment.BlobItems {
		found = found || *b.Name == "o-roles.json"
	}
	if !found {
		t.Errorf("receipt not listed: %d items", len(page.Segment.BlobItems))
	}

	_, err = frontend.DeleteBlob(ctx, "receipts", "o-roles.json", nil)
	wantRefused(t, "frontend deletes a receipt (Reader only)", err, http.StatusForbidden, bloberror.AuthorizationPermissionMismatch)
	_, err = frontend.UploadBuffer(ctx, "receipts", "forged.json", []byte("{}"), nil)
	wantRefused(t, "frontend writes a receipt", err, http.StatusForbidden, bloberror.AuthorizationPermissionMismatch)
	_, err = frontend.ServiceClient().NewContainerClient("receipts").NewBlobClient("o-roles.json").
		SetMetadata(ctx, map[string]*string{"forged": ptr("yes")}, nil)
	wantRefused(t, "frontend sets a receipt's metadata", err, http.StatusForbidden, bloberror.AuthorizationPermissionMismatch)
	_, err = backend.UploadBuffer(ctx, "attachments", "o-roles/forged.pdf", []byte("%PDF"), nil)
	wantRefused(t, "backend writes an attachment (Reader only)", err, http.StatusForbidden, bloberror.AuthorizationPermissionMismatch)
	// A new container lies outside every container-scoped assignment.
	_, err = backend.CreateContainer(ctx, "receipts-archive", nil)
	wantRefused(t, "backend creates a container (roles on receipts and attachments only)", err, http.StatusForbidden, bloberror.AuthorizationPermissionMismatch)

	// The refused delete did nothing; the backend's own delete goes through.
	if _, err := frontend.DownloadStream(ctx, "receipts", "o-roles.json", nil); err != nil {
		t.Fatalf("receipt gone after a refused delete: %v", err)
	}
	if _, err := backend.DeleteBlob(ctx, "receipts", "o-roles.json", nil); err != nil {
		t.Fatalf("backend deletes its receipt (Contributor): %v", err)
	}
	_, err = frontend.DownloadStream(ctx, "receipts", "o-roles.json", nil)
	wantRefused(t, "read after delete", err, http.StatusNotFound, bloberror.BlobNotFound)
}

// staticToken is a credential that always hands out the same token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Tokens Azurite alone would take (it checks no signature) are refused as Blob
// Storage refuses them: 401 InvalidAuthenticationInfo, with the Bearer challenge.
func TestBlobRefusesUnverifiedTokens(t *testing.T) {
	ctx := testCtx(t)
	blobEndpoint(t)
	real, err := credentialFromEnv(t, "frontend").GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{storageScope}})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(real.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var header struct{ Kid string }
	if h, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(h, &header) != nil {
		t.Fatalf("token header: %v", err)
	}
	// The same claims and key id, signed with a key the local Entra never published.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := authz.SignRS256(key, header.Kid, json.RawMessage(claims))
	if err != nil {
		t.Fatal(err)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."

	// The genuine token reads: the refusals below are the signature's, nothing else's.
	payload := []byte("%PDF-1.7 unverified")
	if _, err := blobClient(t, staticToken(real.Token)).UploadBuffer(ctx, "attachments", "o-unverified/a.pdf", payload, nil); err != nil {
		t.Fatalf("genuine token: %v", err)
	}
	for name, tok := range map[string]string{"unsigned": none, "foreign-signed": foreign} {
		c := blobClient(t, staticToken(tok))
		_, err := c.DownloadStream(ctx, "attachments", "o-unverified/a.pdf", nil)
		wantRefused(t, name+" read", err, http.StatusUnauthorized, bloberror.InvalidAuthenticationInfo)
		_, err = c.UploadBuffer(ctx, "attachments", "o-unverified/b.pdf", payload, nil)
		wantRefused(t, name+" write", err, http.StatusUnauthorized, bloberror.InvalidAuthenticationInfo)
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			want := "Bearer authorization_uri=https://login.microsoftonline.com/" + st.Config().LocalAzure.TenantID +
				"/oauth2/authorize resource_id=https://storage.azure.com"
			if got := re.RawResponse.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("%s: challenge %q, want %q", name, got, want)
			}
		}
	}
	if _, err := sharedKeyClient(t).DownloadStream(ctx, "attachments", "o-unverified/b.pdf", nil); !bloberror.HasCode(err, bloberror.BlobNotFound) {
		t.Errorf("a refused upload reached Azurite: %v", err)
	}
}

// Shared Key requests pass the gate untouched and Azurite checks the key: the right
// key works, a wrong one is refused.
func TestBlobSharedKeyPassesThrough(t *testing.T) {
	ctx := testCtx(t)
	c := sharedKeyClient(t)
	body := []byte("written with the account key")
	if _, err := c.UploadBuffer(ctx, "receipts", "shared-key.txt", body, nil); err != nil {
		t.Fatalf("shared key upload: %v", err)
	}
	res, err := c.DownloadStream(ctx, "receipts", "shared-key.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, res.Body); !bytes.Equal(got, body) {
		t.Fatalf("read %q", got)
	}
	wrong, err := azblob.NewSharedKeyCredential("devstoreaccount1", base64.StdEncoding.EncodeToString([]byte("not the account key")))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := azblob.NewClientWithSharedKeyCredential(blobEndpoint(t), wrong, &azblob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: httpClient()},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Azure answers 403 AuthenticationFailed; Azurite with --oauth falls through to
	// its bearer check and answers 400 InvalidAuthenticationInfo. Either way it is
	// Azurite's own refusal, which the gate passed back.
	_, err = bad.DownloadStream(ctx, "receipts", "shared-key.txt", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || (re.StatusCode != http.StatusForbidden && re.StatusCode != http.StatusBadRequest) || re.ErrorCode == "" {
		t.Errorf("wrong account key: %v, want Azurite's refusal", err)
	}
}

// A multi-MiB blob goes through in blocks (Put Block, Put Block List) and comes back
// whole and by range, with the etag and Content-MD5 Azurite gave it.
func TestBlobLargeStreamedThroughGate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := blobClient(t, credentialFromEnv(t, "backend"))
	data := make([]byte, 9<<20+123) // not a multiple of the block size
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	up, err := c.UploadStream(ctx, "receipts", "large.bin", bytes.NewReader(data), &azblob.UploadStreamOptions{BlockSize: 2 << 20, Concurrency: 3})
	if err != nil {
		t.Fatalf("streamed upload: %v", err)
	}
	res, err := c.DownloadStream(ctx, "receipts", "large.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, res.Body); !bytes.Equal(got, data) || *res.ContentLength != int64(len(data)) || *res.ETag != *up.ETag {
		t.Fatalf("download: %d bytes (length %d, etag %v), want %d (etag %v)", len(got), *res.ContentLength, *res.ETag, len(data), *up.ETag)
	}
	off, n := int64(5<<20-7), int64(1<<20)
	part, err := c.DownloadStream(ctx, "receipts", "large.bin", &azblob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: off, Count: n}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, part.Body); !bytes.Equal(got, data[off:off+n]) || part.ContentRange == nil || !strings.HasPrefix(*part.ContentRange, "bytes 5242873-6291448/") {
		t.Fatalf("range: %d bytes, Content-Range %v", len(got), part.ContentRange)
	}
	// DownloadBuffer fetches ranges in parallel: each goes through the gate on its own.
	buf := make([]byte, len(data))
	if _, err := c.DownloadBuffer(ctx, "receipts", "large.bin", buf, &azblob.DownloadBufferOptions{BlockSize: 3 << 20, Concurrency: 3}); err != nil || !bytes.Equal(buf, data) {
		t.Fatalf("parallel ranged download: %v", err)
	}
}
