package graphtest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// deviceProperties are the properties of Graph's device resource (v1.0), in
// the order Graph writes them; $select accepts these names.
var deviceProperties = []string{
	"id", "deletedDateTime", "accountEnabled", "alternativeSecurityIds",
	"approximateLastSignInDateTime", "complianceExpirationDateTime", "deviceCategory",
	"deviceId", "deviceMetadata", "deviceOwnership", "deviceVersion", "displayName",
	"enrollmentProfileName", "enrollmentType", "extensionAttributes", "isCompliant",
	"isManaged", "isRooted", "managementType", "manufacturer", "mdmAppId", "model",
	"onPremisesLastSyncDateTime", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
	"operatingSystem", "operatingSystemVersion", "physicalIds", "profileType",
	"registrationDateTime", "systemLabels", "trustType",
}

var knownProperty = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range deviceProperties {
		m[strings.ToLower(p)] = true
	}
	return m
}()

// canonicalProperty returns Graph's spelling of a property name, which Graph
// matches case-insensitively.
func canonicalProperty(name string) (string, bool) {
	for _, p := range deviceProperties {
		if strings.EqualFold(p, name) {
			return p, true
		}
	}
	return "", false
}

// record is one device: a scenario map or a generated device.
type record interface {
	get(prop string) (any, bool)
	// props lists the properties to write when $select is absent.
	props() []string
}

type mapRecord map[string]any

func (m mapRecord) get(p string) (any, bool) { v, ok := m[p]; return v, ok }

func (m mapRecord) props() []string {
	var out []string
	for _, p := range deviceProperties {
		if _, ok := m[p]; ok {
			out = append(out, p)
		}
	}
	var extra []string
	for k := range m {
		if !knownProperty[strings.ToLower(k)] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// tenantData is the device collection of one tenant: scenario devices first,
// then generated ones, then added ones (changes). Reads hold mu's read lock
// (see rlock).
type tenantData struct {
	changes
	tenant    string
	devices   []map[string]any
	generated int
	byID      map[string]int // scenario device id (lower case) → position
	seed      [32]byte       // generated devices derive from it
}

func (td *tenantData) index() {
	td.byID = map[string]int{}
	for i, d := range td.devices {
		if id, ok := d["id"].(string); ok {
			td.byID[strings.ToLower(id)] = i
		}
	}
	td.seed = sha256.Sum256([]byte("graphtest/" + td.tenant))
}

// rlock takes the read lock of a tenant's data (nil: nothing to lock) and
// returns its unlock.
func (td *tenantData) rlock() func() {
	if td == nil {
		return func() {}
	}
	td.mu.RLock()
	return td.mu.RUnlock
}

func (td *tenantData) len() int {
	if td == nil {
		return 0
	}
	return len(td.devices) + td.generated + len(td.added)
}

// gone reports whether the device at i was removed.
func (td *tenantData) gone(i int) bool { return td.removed[i] }

func (td *tenantData) at(i int) record {
	var r record
	switch {
	case i < len(td.devices):
		r = mapRecord(td.devices[i])
	case i < len(td.devices)+td.generated:
		r = td.gen(i - len(td.devices))
	default:
		r = mapRecord(td.added[i-len(td.devices)-td.generated])
	}
	if o, ok := td.overrides[i]; ok {
		return overlay{base: r, over: o}
	}
	return r
}

// find returns the position of the device with object ID id; the caller
// holds the read lock.
func (td *tenantData) find(id string) (int, bool) {
	if td == nil {
		return 0, false
	}
	return td.findLocked(id)
}

func (td *tenantData) findLocked(id string) (int, bool) {
	id = strings.ToLower(id)
	if i, ok := td.byID[id]; ok {
		return i, !td.removed[i]
	}
	if i, ok := td.byID[id]; ok {
		return i, true
	}
	// A generated ID ends with its index in hex; check it round-trips.
	if len(id) == 36 {
		if n, err := strconv.ParseUint(id[24:], 16, 64); err == nil && n < uint64(td.generated) {
			if td.genID(int(n), 0) == id {
				i := len(td.devices) + int(n)
				return i, !td.removed[i]
			}
		}
	}
	return 0, false
}

// genID makes a UUID-shaped ID for generated device i: a per-tenant prefix
// (salted, so that id and deviceId differ) and the index in the last group.
func (td *tenantData) genID(i int, salt byte) string {
	a := binary.BigEndian.Uint32(td.seed[0+salt:])
	b := binary.BigEndian.Uint16(td.seed[4+salt:])
	c := binary.BigEndian.Uint16(td.seed[6+salt:]) & 0x0fff
	d := binary.BigEndian.Uint16(td.seed[8+salt:])&0x3fff | 0x8000
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a, b, c, d, i)
}

// genEpoch anchors generated timestamps so that they do not depend on when
// the test runs.
var genEpoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

var (
	genOS       = []string{"Windows", "iOS", "Android", "MacMDM", "Linux"}
	genOSVer    = []string{"10.0.26100.2314", "18.1", "15", "15.1", "6.8"}
	genTrust    = []string{"AzureAd", "ServerAd", "Workplace"}
	genMaker    = []string{"Contoso", "Fabrikam", "Litware"}
	genOwner    = []string{"Company", "Personal"}
	genProfile  = []string{"RegisteredDevice", "RegisteredDevice", "RegisteredDevice", "SecureVM"}
	genMgmtType = []string{"MDM", "EAS", "None"}
)

// genDevice is a generated device, computed from (tenant, index) only.
type genDevice struct {
	td *tenantData
	i  int
}

func (td *tenantData) gen(i int) genDevice { return genDevice{td: td, i: i} }

var genProps = []string{
	"id", "deletedDateTime", "accountEnabled", "approximateLastSignInDateTime",
	"deviceId", "deviceOwnership", "deviceVersion", "displayName", "isCompliant",
	"isManaged", "managementType", "manufacturer", "model", "operatingSystem",
	"operatingSystemVersion", "physicalIds", "profileType", "registrationDateTime",
	"systemLabels", "trustType",
}

func (g genDevice) props() []string { return genProps }

func (g genDevice) get(p string) (any, bool) {
	i := g.i
	switch p {
	case "id":
		return g.td.genID(i, 0), true
	case "deletedDateTime":
		return nil, true
	case "accountEnabled":
		return i%10 != 9, true
	case "approximateLastSignInDateTime":
		return genEpoch.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339), true
	case "deviceId":
		return g.td.genID(i, 16), true
	case "deviceOwnership":
		return genOwner[i%len(genOwner)], true
	case "deviceVersion":
		return 2, true
	case "displayName":
		return fmt.Sprintf("DEVICE-%06d", i), true
	case "isCompliant":
		return i%4 != 0, true
	case "isManaged":
		return i%2 == 0, true
	case "managementType":
		return genMgmtType[i%len(genMgmtType)], true
	case "manufacturer":
		return genMaker[i%len(genMaker)], true
	case "model":
		return "Model " + strconv.Itoa(i%7), true
	case "operatingSystem":
		return genOS[i%len(genOS)], true
	case "operatingSystemVersion":
		return genOSVer[i%len(genOSVer)], true
	case "physicalIds":
		return []string{}, true
	case "profileType":
		return genProfile[i%len(genProfile)], true
	case "registrationDateTime":
		return genEpoch.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339), true
	case "systemLabels":
		return []string{}, true
	case "trustType":
		return genTrust[i%len(genTrust)], true
	}
	return nil, false
}
