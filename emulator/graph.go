package emulator

import (
	"time"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// graphDevice renders a scenario device with Graph's property names, which
// is what graphtest serves.
func graphDevice(d fakeidp.Device) map[string]any {
	return map[string]any{
		"id":                            d.ID,
		"deviceId":                      d.DeviceID,
		"displayName":                   d.DisplayName,
		"operatingSystem":               d.OperatingSystem,
		"operatingSystemVersion":        d.OperatingSystemVersion,
		"trustType":                     d.TrustType,
		"accountEnabled":                d.AccountEnabled,
		"isCompliant":                   d.IsCompliant,
		"isManaged":                     d.IsManaged,
		"approximateLastSignInDateTime": d.ApproximateLastSignInDateTime.UTC().Format(time.RFC3339),
	}
}
