package assertion

import (
	"errors"
	"fmt"
)

// ManagedIDKind selects a user-assigned managed identity: a [ClientID], an
// [ObjectID] (also called principal ID) or a [ResourceID]. A nil ManagedIDKind
// means the system-assigned identity. The shape is azidentity's
// (ManagedIdentityCredentialOptions.ID), so code moving between the two keeps
// its values.
//
// Every managed-identity source accepts one in its ID option and sends it the
// way its platform names it (App Service: client_id, principal_id, mi_res_id;
// IMDS: client_id, object_id, msi_res_id). A platform that cannot honour a
// selector refuses it when the source is made, with an error saying so:
// Azure Arc has only the machine's system-assigned identity.
type ManagedIDKind interface {
	fmt.Stringer
	idKind() idKind
}

// ClientID selects a user-assigned managed identity by its client (application) ID.
type ClientID string

// ObjectID selects a user-assigned managed identity by its object ID, which
// App Service calls the principal ID.
type ObjectID string

// ResourceID selects a user-assigned managed identity by its Azure Resource
// Manager ID (/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…).
type ResourceID string

type idKind int

const (
	kindClientID idKind = iota + 1
	kindObjectID
	kindResourceID
)

func (c ClientID) String() string   { return string(c) }
func (o ObjectID) String() string   { return string(o) }
func (r ResourceID) String() string { return string(r) }

func (ClientID) idKind() idKind   { return kindClientID }
func (ObjectID) idKind() idKind   { return kindObjectID }
func (ResourceID) idKind() idKind { return kindResourceID }

// ErrUserAssignedNotSupported is wrapped by the error of a source whose
// platform has no user-assigned identities (Azure Arc) when it is given a
// selector. Use [errors.Is].
var ErrUserAssignedNotSupported = errors.New("user-assigned managed identities are not supported on this platform")

// queryNames is how a protocol names the three selectors in its query.
type queryNames [3]string // client ID, object ID, resource ID

// resolveID merges the ID option with the deprecated string fields (ClientID,
// ObjectID, ResourceID of the options structs), which stay honoured: at most
// one of all four may be set. It returns the query parameter and value to
// send, both empty for the system-assigned identity.
func resolveID(source string, id ManagedIDKind, names queryNames, clientID, objectID, resourceID string) (name, value string, err error) {
	legacy := [3]string{clientID, objectID, resourceID}
	if id != nil && id.String() == "" {
		return "", "", fmt.Errorf("assertion: %s: ID is an empty %T; leave ID nil for the system-assigned identity", source, id)
	}
	set := 0
	for i, v := range legacy {
		if v != "" {
			set++
			name, value = names[i], v
		}
	}
	if id != nil {
		set++
		name, value = names[id.idKind()-1], id.String()
	}
	if set > 1 {
		return "", "", fmt.Errorf("assertion: %s: set at most one identity selector (ID, or one of the deprecated ClientID, ObjectID and ResourceID)", source)
	}
	return name, value, nil
}
