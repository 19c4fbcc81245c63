package config_test

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
)

// TestKafkaTLSKeys: the kafka block's tls keys and sasl.token_env are real fields (strict
// evctl.yaml accepts them and they decode), and a misspelt tls key is an error with a suggestion.
func TestKafkaTLSKeys(t *testing.T) {
	const src = `version: 1
environments:
  prod:
    stages: [prod]
    kafka:
      brokers: ["b:9093"]
      sasl: {mechanism: OAUTHBEARER, token_env: KAFKA_TOKEN}
      tls: {enabled: true, ca_file: ca.pem, cert_file: c.pem, key_file: k.pem, server_name: kafka.internal}
    state: {url: "file://s"}
`
	p, diags := config.Parse(config.FileName, []byte(src))
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	k := p.Environments["prod"].Kafka
	want := config.KafkaTLS{Enabled: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "kafka.internal"}
	if k.TLS != want || k.SASL.TokenEnv != "KAFKA_TOKEN" {
		t.Fatalf("decoded tls %+v sasl %+v", k.TLS, k.SASL)
	}
	_, diags = config.Parse(config.FileName, []byte(strings.Replace(src, "ca_file", "cafile", 1)))
	if len(diags) != 1 || !strings.Contains(diags[0].String(), `unknown key "cafile" (did you mean "ca_file"?)`) {
		t.Fatalf("misspelt key: %v", diags)
	}
}
