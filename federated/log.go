package federated

import (
	_ "unsafe" // for go:linkname

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
)

// EventAuthentication is the azcore/log event under which Credential reports
// which tenant and scope it requested, cache misses, refreshes and round-trip
// times. It has the same value as azidentity.EventAuthentication, so
// log.SetEvents(azidentity.EventAuthentication) enables both. Tokens and
// assertions are never logged.
const EventAuthentication log.Event = "Authentication"

// azcore/log exposes SetListener and SetEvents only; the writer lives in
// github.com/Azure/azure-sdk-for-go/sdk/internal/log, which Go's internal-package
// rule keeps modules outside sdk/ from importing. These two linknames let our
// events reach the same listener as azidentity's. TestLogReachesAzcoreListener
// fails if a future sdk/internal changes these functions.

//go:linkname logShould github.com/Azure/azure-sdk-for-go/sdk/internal/log.Should
func logShould(ev log.Event) bool

//go:linkname logWrite github.com/Azure/azure-sdk-for-go/sdk/internal/log.Write
func logWrite(ev log.Event, msg string)
