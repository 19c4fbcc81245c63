// Package transform owns a consumer's template (SPEC-dataplane 11): parsing a Go text/template
// with exactly the functions json, uuid, now, default, lower, upper and toUnixMillis (none
// reaches the network or the file system), listing the event fields a template names so lint can
// check them against the compiled message, turning a decoded event into the template's data, and
// rendering bounded in time and output size. Lint (at build time) and evctl route (at run time)
// share it, so a template behaves the same in both; it sits with the contracts because lint may
// not import the data plane.
package transform
