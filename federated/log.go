package federated

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
)

// EventAuthentication is the [log.Event] under which a [Credential] reports
// its own work to [Options.Logger]: which tenant and scope it requested, cache
// misses, refreshes, rejected assertions and failures. It has the value of
// azidentity.EventAuthentication, so one filter on the event name serves both.
// Tokens and assertions are never logged.
const EventAuthentication log.Event = "Authentication"

// logf sends an EventAuthentication entry to Options.Logger. Without a Logger
// it returns before formatting, so the callers (none on the warm path) pay one
// nil check. Its arguments never include a token or an assertion.
func (c *Credential) logf(format string, args ...any) {
	if c.logger == nil {
		return
	}
	c.logger(EventAuthentication, fmt.Sprintf(format, args...))
}
