package envconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
)

// testPKI is a CA, a server certificate for 127.0.0.1 and a client certificate, made per test.
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	server tls.Certificate
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCA(t *testing.T, name string) *testPKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{ca: ca, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	certPEM, keyPEM := p.issue(t, "kafka", x509.ExtKeyUsageServerAuth)
	if p.server, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue signs a leaf certificate for 127.0.0.1 (and dns, if given) with the given usage; PEM
// certificate and key.
func (p *testPKI) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, dns ...string) ([]byte, []byte) {
	t.Helper()
	key := newKey(t)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func tlsCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestKafkaMutualTLS plans and applies a synthetic repository through envplan and apply against
// a kfake cluster that speaks only TLS, requires a client certificate signed by the test CA
// (mutual TLS) and SCRAM on top; then a producing and a consuming team, logged in with the
// passwords evctl made for them (SCRAM-SHA-512) over the same TLS options from KafkaOpts, write a
// record and read it back. A client trusting another CA, one without a client certificate and
// a missing key file are refused with errors naming the cause.
func TestKafkaMutualTLS(t *testing.T) {
	pki := newCA(t, "evctl test CA")
	clientPool := x509.NewCertPool()
	clientPool.AddCert(pki.ca)
	kc := kafkatest.Start(t, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientPool,
		MinVersion:   tls.VersionTLS12,
	}))
	dir := t.TempDir()
	if _, err := synth.WriteContracts(dir, synth.Options{N: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := pki.issue(t, "evctl", x509.ExtKeyUsageClientAuth)
	writeFile(t, dir, "ca.pem", pki.caPEM)
	writeFile(t, dir, "client.pem", certPEM)
	writeFile(t, dir, "client-key.pem", keyPEM)
	writeFile(t, dir, "other-ca.pem", newCA(t, "someone else's CA").caPEM)
	tlsCfg := config.KafkaTLS{Enabled: true, CAFile: "ca.pem", CertFile: "client.pem", KeyFile: "client-key.pem"}
	open := func(tc config.KafkaTLS) *workspace.Workspace {
		ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
		if err != nil {
			t.Fatal(err)
		}
		env := ws.Project.Environments["local"]
		env.Kafka.Brokers = kc.Addrs
		env.Kafka.TLS = tc
		ws.Project.Environments["local"] = env
		return ws
	}
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}
	opts := envplan.Options{Getenv: func(k string) string { return vars[k] }}

	run, err := envplan.Prepare(tlsCtx(t), open(tlsCfg), "local", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if run.Conn.KafkaErr != nil {
		t.Fatalf("kafka over mutual TLS: %v", run.Conn.KafkaErr)
	}
	var topic string
	for _, c := range run.Plan.Changes {
		if c.Kind == kafka.KindTopic && c.Action == sink.Create && topic == "" {
			topic = c.Name
		}
	}
	if topic == "" {
		t.Fatalf("no topic planned: %+v", run.Plan.Changes)
	}
	rep, err := apply.Run(tlsCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Kind, "kafka") && r.Status != state.StatusOK {
			t.Fatalf("%s/%s: %s %s", r.Kind, r.Name, r.Status, r.Error)
		}
	}
	again, err := envplan.Prepare(tlsCtx(t), open(tlsCfg), "local", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, c := range again.Plan.Changes {
		if strings.HasPrefix(c.Kind, "kafka") && c.Action != sink.Noop {
			t.Errorf("re-plan over TLS: %s %s, want noop", c.Action, c.ID())
		}
	}

	// The teams' clients: the same KafkaOpts, with the team's SCRAM-SHA-512 login.
	ws := open(tlsCfg)
	var producer, consumer string
	for _, ev := range ws.Events {
		if ws.Project.TopicName("local", ev) == topic {
			producer, consumer = ev.Access.Producers[0], ev.Access.Consumers[0]
		}
	}
	teamOpts := func(team string) []kgo.Opt {
		pw, _, err := run.Conn.Credentials.Password(team)
		if err != nil {
			t.Fatal(err)
		}
		k := ws.Project.Environments["local"].Kafka
		k.SASL = config.SASL{Mechanism: kafka.MechanismScramSHA512, UserEnv: "TEAM_USER", PasswordEnv: "TEAM_PASSWORD"}
		login := map[string]string{"TEAM_USER": kafka.UserName(team), "TEAM_PASSWORD": pw}
		o, err := envconn.KafkaOpts(dir, k, func(v string) string { return login[v] })
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	pc, err := kgo.NewClient(append(teamOpts(producer), kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.ProduceSync(tlsCtx(t), &kgo.Record{Value: []byte("over tls")}).FirstErr(); err != nil {
		t.Fatalf("%s produces over TLS: %v", producer, err)
	}
	cc, err := kgo.NewClient(append(teamOpts(consumer), kgo.ConsumeTopics(topic),
		kgo.ConsumerGroup(kafka.GroupPrefix(consumer)+"tls"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	fs := cc.PollFetches(tlsCtx(t))
	if err := fs.Err(); err != nil {
		t.Fatalf("%s consumes over TLS: %v", consumer, err)
	}
	var got []string
	fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	if strings.Join(got, ",") != "over tls" {
		t.Fatalf("%s read back %q", consumer, got)
	}

	// Refusals: the wrong CA, no client certificate, a key file that is not there.
	env := func(tc config.KafkaTLS) config.KafkaEnv {
		k := ws.Project.Environments["local"].Kafka
		k.TLS = tc
		return k
	}
	connect := func(tc config.KafkaTLS) error {
		conn, err := envconn.Open(tlsCtx(t), open(tc).Project, "local", envconn.Options{Getenv: opts.Getenv, ConnectTimeout: 5 * time.Second})
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.KafkaErr
	}
	wrong := tlsCfg
	wrong.CAFile = "other-ca.pem"
	if err := connect(wrong); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("wrong CA: %v, want certificate signed by unknown authority", err)
	}
	noCert := config.KafkaTLS{Enabled: true, CAFile: "ca.pem"}
	if err := connect(noCert); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("no client certificate: %v, want refused by the broker (certificate required)", err)
	}
	missing := tlsCfg
	missing.KeyFile = "gone.pem"
	_, err = envconn.KafkaOpts(dir, env(missing), opts.Getenv)
	if err == nil || !strings.Contains(err.Error(), "kafka.tls.key_file gone.pem") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing key file: %v", err)
	}
	garbled := tlsCfg
	garbled.KeyFile = "ca.pem" // a certificate where the key should be
	_, err = envconn.KafkaOpts(dir, env(garbled), opts.Getenv)
	if err == nil || !strings.Contains(err.Error(), "kafka.tls.key_file") || strings.Contains(err.Error(), "BEGIN") {
		t.Errorf("garbled key file: %v", err)
	}
	off := config.KafkaTLS{CAFile: "ca.pem"}
	if _, err = envconn.KafkaOpts(dir, env(off), opts.Getenv); err == nil || !strings.Contains(err.Error(), "enabled") {
		t.Errorf("files with tls off: %v", err)
	}
}

// TestKafkaTLSServerNamePlain: a broker whose certificate names only kafka.internal (no IP
// SAN) is reached at 127.0.0.1 with tls.server_name set, logging in with SASL PLAIN, which TLS
// makes safe to send; without server_name the certificate does not match and the client is
// refused.
func TestKafkaTLSServerNamePlain(t *testing.T) {
	pki := newCA(t, "evctl test CA")
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "kafka.internal"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"kafka.internal"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.ca, &key.PublicKey, pki.caKey)
	if err != nil {
		t.Fatal(err)
	}
	server := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	const pw = "plain-secret-0123"
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", pw),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{server}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	dir := t.TempDir()
	writeFile(t, dir, "ca.pem", pki.caPEM)
	vars := map[string]string{"U": "admin", "P": pw}
	k := config.KafkaEnv{Brokers: kc.ListenAddrs(),
		SASL: config.SASL{Mechanism: "PLAIN", UserEnv: "U", PasswordEnv: "P"},
		TLS:  config.KafkaTLS{Enabled: true, CAFile: filepath.Join(dir, "ca.pem"), ServerName: "kafka.internal"}}
	ping := func(k config.KafkaEnv) error {
		opts, err := envconn.KafkaOpts("/nonexistent-root", k, func(v string) string { return vars[v] })
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := kafka.Connect(ctx, kafka.Config{Brokers: k.Brokers, Opts: opts})
		if err != nil {
			return err
		}
		c.Close()
		return nil
	}
	if err := ping(k); err != nil {
		t.Fatalf("PLAIN over TLS with server_name: %v", err)
	}
	k.TLS.ServerName = ""
	if err := ping(k); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without server_name: %v, want a certificate error", err)
	}
}

// TestKafkaOptsOAuthBearerNoServer: kfake has no OAUTHBEARER, so no server test exists; this
// checks that the token from sasl.token_env becomes the client's OAUTHBEARER mechanism and that a
// missing token or token_env is an error naming the key, without the token.
func TestKafkaOptsOAuthBearerNoServer(t *testing.T) {
	const tok = "eyJ-secret-token"
	k := config.KafkaEnv{Brokers: []string{"127.0.0.1:1"}, SASL: config.SASL{Mechanism: "OAUTHBEARER", TokenEnv: "KAFKA_TOKEN"}}
	opts, err := envconn.KafkaOpts(t.TempDir(), k, func(v string) string { return map[string]string{"KAFKA_TOKEN": tok}[v] })
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ms, ok := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
	if !ok || len(ms) != 1 || ms[0].Name() != "OAUTHBEARER" {
		t.Fatalf("SASL mechanisms %v", cl.OptValue(kgo.SASL))
	}
	_, err = envconn.KafkaOpts(t.TempDir(), k, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "KAFKA_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
	k.SASL.TokenEnv = ""
	_, err = envconn.KafkaOpts(t.TempDir(), k, func(string) string { return tok })
	if err == nil || !strings.Contains(err.Error(), "kafka.sasl.token_env") || strings.Contains(err.Error(), tok) {
		t.Fatalf("no token_env: %v", err)
	}
}
