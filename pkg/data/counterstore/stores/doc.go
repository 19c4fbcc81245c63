// Package stores opens the counter store an environment names (counters.store): it is the one
// place that knows every implementation, so the worker, the gateway and the CLI open stores the
// same way.
package stores
