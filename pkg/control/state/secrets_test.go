package state_test

import (
	"errors"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// TestRecordsArePlainData guards SPEC section 4, "secrets never appear in ... audit records":
// every type state stores holds only plain data (strings, numbers, times, string maps and
// slices of such structs), and no field is named like a secret. Adding a credential field, or
// an `any` a credential could hide in, fails here.
func TestRecordsArePlainData(t *testing.T) {
	secretName := regexp.MustCompile(`(?i)pass(word)?|secret|token|credential|private|sasl|key$`)
	timeType := reflect.TypeFor[time.Time]()
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		switch {
		case typ == timeType:
			return
		case typ.Kind() == reflect.String, typ.Kind() == reflect.Int, typ.Kind() == reflect.Bool:
			return
		case typ.Kind() == reflect.Pointer, typ.Kind() == reflect.Slice:
			if typ.Elem().Kind() == reflect.Uint8 {
				t.Errorf("%s: raw bytes (%s) in a stored record", path, typ)
				return
			}
			walk(path+"[]", typ.Elem())
		case typ.Kind() == reflect.Map:
			if typ.Key().Kind() != reflect.String {
				t.Errorf("%s: map key %s", path, typ.Key())
			}
			walk(path+"{}", typ.Elem())
		case typ.Kind() == reflect.Struct:
			for f := range typ.Fields() {
				if secretName.MatchString(f.Name) || secretName.MatchString(f.Tag.Get("json")) {
					t.Errorf("%s.%s: a field named like a secret", path, f.Name)
				}
				walk(path+"."+f.Name, f.Type)
			}
		default:
			t.Errorf("%s: %s is not plain data", path, typ)
		}
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[state.Resources](),
		reflect.TypeFor[state.LockInfo](),
		reflect.TypeFor[state.AuditRecord](),
	} {
		walk(typ.Name(), typ)
	}
}

// TestSecretFactsRefused: facts are free-form, so Write refuses keys that name a secret.
func TestSecretFactsRefused(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		for _, fact := range []string{"sasl_password", "Producer_Token", "client_secret", "credentials_json"} {
			rec := record("t", state.StatusOK)
			rec.Facts = map[string]string{fact: "hunter2"}
			err := state.SetRecord(t.Context(), store, "local", rec)
			if err == nil || errors.Is(err, state.ErrConflict) {
				t.Errorf("fact %q: SetRecord = %v, want a refusal", fact, err)
			}
		}
		if _, _, err := store.Get(t.Context(), "local/resources.json"); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("a refused record was written: %v", err)
		}
	})
}
