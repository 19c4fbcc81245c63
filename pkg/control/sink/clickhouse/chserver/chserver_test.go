package chserver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
)

// TestStartAnswersSQL starts the real server and runs a query and a failing one over HTTP.
func TestStartAnswersSQL(t *testing.T) {
	s := chtest.Start(t)
	c, err := chhttp.New(s.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v == "" || !strings.Contains(v, ".") {
		t.Fatalf("version %q", v)
	}
	err = c.Exec(context.Background(), "SELECT nope", nil)
	var ce *chhttp.Error
	if err == nil || !asErr(err, &ce) || !strings.Contains(ce.Message, "nope") {
		t.Fatalf("bad statement: err = %v", err)
	}
}

func asErr(err error, target **chhttp.Error) bool {
	e, ok := err.(*chhttp.Error)
	if ok {
		*target = e
	}
	return ok
}
