package graphlite

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Device is Graph's device resource (learn.microsoft.com/graph/api/resources/device),
// with its JSON property names. Booleans and times are pointers, so that a
// property left out by $select (or null in Graph) is nil rather than false or
// the zero time; strings are empty then.
type Device struct {
	ID                            string     `json:"id"`
	DeletedDateTime               *time.Time `json:"deletedDateTime,omitempty"`
	AccountEnabled                *bool      `json:"accountEnabled,omitempty"`
	ApproximateLastSignInDateTime *time.Time `json:"approximateLastSignInDateTime,omitempty"`
	ComplianceExpirationDateTime  *time.Time `json:"complianceExpirationDateTime,omitempty"`
	DeviceCategory                string     `json:"deviceCategory,omitempty"`
	DeviceID                      string     `json:"deviceId,omitempty"`
	DeviceMetadata                string     `json:"deviceMetadata,omitempty"`
	DeviceOwnership               string     `json:"deviceOwnership,omitempty"`
	DeviceVersion                 *int32     `json:"deviceVersion,omitempty"`
	DisplayName                   string     `json:"displayName,omitempty"`
	EnrollmentProfileName         string     `json:"enrollmentProfileName,omitempty"`
	EnrollmentType                string     `json:"enrollmentType,omitempty"`
	IsCompliant                   *bool      `json:"isCompliant,omitempty"`
	IsManaged                     *bool      `json:"isManaged,omitempty"`
	IsRooted                      *bool      `json:"isRooted,omitempty"`
	ManagementType                string     `json:"managementType,omitempty"`
	Manufacturer                  string     `json:"manufacturer,omitempty"`
	MDMAppID                      string     `json:"mdmAppId,omitempty"`
	Model                         string     `json:"model,omitempty"`
	OnPremisesLastSyncDateTime    *time.Time `json:"onPremisesLastSyncDateTime,omitempty"`
	OnPremisesSecurityIdentifier  string     `json:"onPremisesSecurityIdentifier,omitempty"`
	OnPremisesSyncEnabled         *bool      `json:"onPremisesSyncEnabled,omitempty"`
	OperatingSystem               string     `json:"operatingSystem,omitempty"`
	OperatingSystemVersion        string     `json:"operatingSystemVersion,omitempty"`
	PhysicalIDs                   []string   `json:"physicalIds,omitempty"`
	ProfileType                   string     `json:"profileType,omitempty"`
	RegistrationDateTime          *time.Time `json:"registrationDateTime,omitempty"`
	SystemLabels                  []string   `json:"systemLabels,omitempty"`
	TrustType                     string     `json:"trustType,omitempty"`
}

// DevicesOptions are the OData options of a device listing. nil means Graph's
// defaults (all default properties, 100 per page).
type DevicesOptions struct {
	// Select lists the properties to return ($select), e.g. "id", "displayName".
	Select []string
	// Filter is an OData $filter, e.g. "operatingSystem eq 'Windows'".
	Filter string
	// Top is the page size ($top, 1 to 999); 0 means Graph's default.
	Top int
	// Count adds $count=true and ConsistencyLevel: eventual, which makes the
	// listing an advanced query, as Graph requires for filters with ne, not or
	// endsWith. (For the number itself, use [Client.CountDevices].)
	Count bool
}

func (o *DevicesOptions) query() url.Values {
	q := url.Values{}
	if o == nil {
		return q
	}
	if len(o.Select) > 0 {
		q.Set("$select", strings.Join(o.Select, ","))
	}
	if o.Filter != "" {
		q.Set("$filter", o.Filter)
	}
	if o.Top > 0 {
		q.Set("$top", strconv.Itoa(o.Top))
	}
	if o.Count {
		q.Set("$count", "true")
	}
	return q
}

// Devices lists the devices of the token's tenant (GET /devices), page by
// page; see [List]. The app needs the application permission Device.Read.All.
func (c *Client) Devices(ctx context.Context, opts *DevicesOptions) iter.Seq2[Device, error] {
	if opts != nil && opts.Count {
		ctx = WithEventualConsistency(ctx)
	}
	return List[Device](ctx, c, "/devices", opts.query())
}

// CountDevices returns the number of devices that match filter ("" for all),
// from GET /devices/$count with ConsistencyLevel: eventual.
func (c *Client) CountDevices(ctx context.Context, filter string) (int, error) {
	q := url.Values{}
	if filter != "" {
		q.Set("$filter", filter)
	}
	var n int
	err := c.Get(WithEventualConsistency(ctx), "/devices/$count", q, &n)
	return n, err
}
