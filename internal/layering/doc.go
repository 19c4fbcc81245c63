// Package layering holds the test that keeps evctl's imports pointing down (STYLE.md, HELPERS.md):
// cli → discovery → data → control → contracts/storage. It has no code of its own.
package layering
