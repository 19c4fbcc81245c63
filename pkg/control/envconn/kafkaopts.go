package envconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

// MechanismOAuthBearer is the SASL mechanism for managed clusters that take a bearer token; the
// token is read from the variable sasl.token_env names (evctl does not fetch or refresh it).
const MechanismOAuthBearer = "OAUTHBEARER"

// KafkaOpts turns an environment's kafka block into the franz-go options every Kafka client
// evctl builds starts from (the sinks' admin client, the gateway, the workers, tail, describe):
// the seed brokers, TLS from the files tls names (relative to root) and SASL with the
// credentials from the variables sasl names. It is the only place these are read, so a client
// cannot forget TLS or SASL. Errors name the evctl.yaml key or the variable, never a secret or
// the contents of a key file.
func KafkaOpts(root string, k config.KafkaEnv, getenv func(string) string) ([]kgo.Opt, error) {
	if len(k.Brokers) == 0 {
		return nil, errors.New("kafka: the environment names no kafka.brokers")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...)}
	if k.TLS.Enabled {
		tc, err := kafkaTLS(root, k.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	} else if k.TLS.CAFile != "" || k.TLS.CertFile != "" || k.TLS.KeyFile != "" || k.TLS.ServerName != "" {
		// Files named but TLS off would silently send credentials in clear text.
		return nil, errors.New("kafka: kafka.tls names files but kafka.tls.enabled is false: set enabled: true (or remove the tls block)")
	}
	if k.SASL.Mechanism == "" {
		return opts, nil
	}
	if strings.EqualFold(k.SASL.Mechanism, MechanismOAuthBearer) {
		if k.SASL.TokenEnv == "" {
			return nil, errors.New("kafka: kafka.sasl.mechanism OAUTHBEARER needs kafka.sasl.token_env")
		}
		tok := getenv(k.SASL.TokenEnv)
		if tok == "" {
			return nil, fmt.Errorf("kafka: set %s to the OAUTHBEARER token", k.SASL.TokenEnv)
		}
		return append(opts, kgo.SASL(oauth.Auth{Token: tok}.AsMechanism())), nil
	}
	user, pw := getenv(k.SASL.UserEnv), getenv(k.SASL.PasswordEnv)
	if user == "" || pw == "" {
		return nil, fmt.Errorf("kafka: set %s and %s to the Kafka credentials (for the local stack: . .evctl/dev/env)", k.SASL.UserEnv, k.SASL.PasswordEnv)
	}
	m, err := kafka.SASL{Mechanism: k.SASL.Mechanism, User: user, Password: pw}.Franz()
	if err != nil {
		return nil, err
	}
	return append(opts, kgo.SASL(m)), nil
}

// kafkaTLS builds the client TLS configuration from the files t names.
func kafkaTLS(root string, t config.KafkaTLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := readKafkaFile(root, "kafka.tls.ca_file", t.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: kafka.tls.ca_file %s: no PEM certificate in it", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("kafka: kafka.tls.cert_file and kafka.tls.key_file go together (mutual TLS): set both or neither")
	}
	if t.CertFile != "" {
		certPEM, err := readKafkaFile(root, "kafka.tls.cert_file", t.CertFile)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readKafkaFile(root, "kafka.tls.key_file", t.KeyFile)
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// crypto/tls's messages describe the problem, not the bytes.
			return nil, fmt.Errorf("kafka: kafka.tls.cert_file %s and kafka.tls.key_file %s: %w", t.CertFile, t.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func readKafkaFile(root, key, path string) ([]byte, error) {
	p := path
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, fmt.Errorf("kafka: %s %s: %w", key, path, err)
	}
	return b, nil
}
