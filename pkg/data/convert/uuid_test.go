package convert

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestNewV7(t *testing.T) {
	before := time.Now().UnixMilli()
	const n, workers = 50000, 4
	ids := make([][]uuid.UUID, workers)
	var wg sync.WaitGroup
	for w := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				id, _ := NewV7()
				ids[w] = append(ids[w], id)
			}
		}()
	}
	wg.Wait()
	after := time.Now().UnixMilli()
	seen := map[uuid.UUID]bool{}
	for _, list := range ids {
		for _, id := range list {
			if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
				t.Fatalf("%s: version %d variant %s", id, id.Version(), id.Variant())
			}
			ms := int64(id[0])<<40 | int64(id[1])<<32 | int64(id[2])<<24 | int64(id[3])<<16 | int64(id[4])<<8 | int64(id[5])
			if ms < before || ms > after {
				t.Fatalf("%s: time %d not in [%d, %d]", id, ms, before, after)
			}
			if seen[id] {
				t.Fatalf("duplicate %s", id)
			}
			seen[id] = true
			if _, err := uuid.Parse(string(appendUUID(nil, id))); err != nil {
				t.Fatal(err)
			}
		}
	}
}
