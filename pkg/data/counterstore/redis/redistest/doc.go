// Package redistest starts Debian's redis-server as a plain process on a loopback port for tests
// and benchmarks (no persistence, no config file). It fails the test when redis-server is not
// installed: scripts/install-tools.sh installs it.
package redistest
