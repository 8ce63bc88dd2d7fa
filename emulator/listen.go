package emulator

import (
	"errors"
	"fmt"
	"net"

	"github.com/tenantbridge/tenantbridge/armtest"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// The emulator's listeners, as [ListenError.Listener] and [Request.Listener]
// name them: the servers' own names.
const (
	ListenerEntra = fakeidp.ListenerEntra   // Entra (HTTPS): AZURE_AUTHORITY_HOST
	ListenerMSI   = fakeidp.ListenerMSI     // managed identity (plain HTTP): App Service and IMDS
	ListenerGraph = graphtest.ListenerGraph // Microsoft Graph (HTTPS): FAKEMSI_GRAPH_URL
	ListenerARM   = armtest.ListenerARM     // Azure Resource Manager (HTTPS): FAKEMSI_ARM_URL
)

// ListenError reports a listener that could not bind its address, typically
// because a fixed port is taken. Use [errors.As]; the message is not a
// contract.
type ListenError struct {
	// Listener is ListenerEntra, ListenerMSI, ListenerGraph or ListenerARM; "" when the
	// failing address was one of fakeidp's two and could not be told apart
	// (both given as the same host name that resolved differently).
	Listener string
	// Addr is the address that could not be bound.
	Addr string
	// Err is the *net.OpError of the failed listen.
	Err error
}

func (e *ListenError) Error() string {
	reason := e.Err
	var oe *net.OpError
	if errors.As(e.Err, &oe) && oe.Err != nil {
		reason = oe.Err // "bind: address already in use", without repeating the address
	}
	return fmt.Sprintf("emulator: %s: cannot listen on %s: %v", listenerName(e.Listener), e.Addr, reason)
}

func (e *ListenError) Unwrap() error { return e.Err }

func listenerName(l string) string {
	switch l {
	case ListenerEntra:
		return "Entra listener"
	case ListenerMSI:
		return "managed-identity listener"
	case ListenerGraph:
		return "Graph listener"
	case ListenerARM:
		return "Resource Manager listener"
	}
	return "Entra or managed-identity listener"
}

// listenError turns a server's start error into a *ListenError when it is a
// failed listen. byAddr maps the requested listen addresses to listener
// names; a server with one listener passes one entry. Other errors (which
// name their package) are returned wrapped.
func listenError(byAddr map[string]string, err error) error {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "listen" || oe.Addr == nil {
		return fmt.Errorf("emulator: %w", err)
	}
	addr := oe.Addr.String()
	le := &ListenError{Addr: addr, Err: oe}
	if l, ok := byAddr[addr]; ok {
		le.Listener = l
	} else if len(byAddr) == 1 {
		for _, l := range byAddr {
			le.Listener = l
		}
	}
	return le
}
