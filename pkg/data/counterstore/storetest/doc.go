// Package storetest is the conformance suite every counterstore.Store passes: fences, atomic
// windows, replays, reads of unseen keys, concurrent scopes and big windows. A store's own test
// calls Run with a constructor that returns an empty store.
package storetest
