package graphlite

import (
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// requestIDPolicy gives every request a fresh client-request-id, the ID that
// Graph support asks for. It runs once per call, before the retries, so that
// the retries of one request share its ID and can be found together.
type requestIDPolicy struct{}

func (requestIDPolicy) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Header.Get(headerClientRequestID) == "" {
		req.Raw().Header.Set(headerClientRequestID, newUUID())
	}
	return req.Next()
}

// newUUID returns a random (version 4) UUID from crypto/rand.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
