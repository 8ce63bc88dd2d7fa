// Package faultmatrix holds no code: its tests drive the whole chain
// (assertion source -> federated.Credential -> graphlite) against the
// in-process emulator and hostile loopback servers, one fault per cell, and
// check that the caller gets a valid result or a typed error naming the
// cause, that goroutines settle and that memory stays bounded (issue 11).
// docs/reliability.md renders the matrix; its hygiene test drives every error
// path with secrets echoed in every field and fails if one appears in an
// error, a log record or a panic value.
package faultmatrix
