package interop_test

import (
	"slices"
	"strings"
	"testing"
)

// TestBlob: @azure/storage-blob with the frontend's workload identity token against
// Azurite over https: upload, download and list in attachments. (Azurite does not
// enforce role assignments, so a refused write is not tested.)
func TestBlob(t *testing.T) {
	requireNode(t)
	if !hasBlob {
		t.Skip("Azurite is not installed (-short): run scripts/install-test-deps.sh")
	}
	var got struct {
		Body     string
		Upload   struct{ Etag, Error string }
		Download struct{ ContentType, Text, Error string }
		List     any
	}
	runNode(t, "blob.mjs", "frontend", nil, &got)
	if got.Upload.Error != "" || got.Upload.Etag == "" {
		t.Errorf("upload: %+v", got.Upload)
	}
	if d := got.Download; d.Error != "" || d.Text != got.Body || d.ContentType != "text/plain" {
		t.Errorf("download: %+v, want %q", d, got.Body)
	}
	name := strings.TrimPrefix(got.Body, "hello from @azure/storage-blob ")
	if names, _ := got.List.([]any); !slices.Contains(names, any(name)) {
		t.Errorf("listBlobsFlat: %v, want %q", got.List, name)
	}
}
