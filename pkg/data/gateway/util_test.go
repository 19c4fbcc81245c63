package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/evctl/evctl/pkg/storage/blob"
)

func blobPut() blob.PutOpts { return blob.PutOpts{} }

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
